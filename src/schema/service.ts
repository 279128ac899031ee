import type { ServiceRegistration } from '../nomad/types.ts';
import { builder } from './builder.ts';

export const ServiceRef = builder.objectRef<ServiceRegistration>('Service').implement({
  description: 'A Nomad-native service registration of an allocation (services registered in Consul are not listed).',
  fields: (t) => ({
    id: t.exposeID('ID'),
    serviceName: t.exposeString('ServiceName'),
    namespace: t.exposeString('Namespace'),
    nodeId: t.exposeID('NodeID'),
    datacenter: t.exposeString('Datacenter'),
    jobId: t.exposeString('JobID'),
    allocId: t.exposeID('AllocID'),
    tags: t.stringList({ resolve: (s) => s.Tags ?? [] }),
    address: t.exposeString('Address'),
    port: t.exposeInt('Port'),
    createIndex: t.field({ type: 'Uint64', resolve: (s) => s.CreateIndex }),
    modifyIndex: t.field({ type: 'Uint64', resolve: (s) => s.ModifyIndex }),
  }),
});
