import type { ServiceRegistration } from '../nomad/types.ts';
import { builder } from './builder.ts';

export const ServiceRef = builder.objectRef<ServiceRegistration>('Service').implement({
  description: 'A Nomad-native service registration of an allocation (services registered in Consul are not listed).',
  fields: (t) => ({
    id: t.exposeID('ID', {
      description: 'Nomad\'s id of the registration, `_nomad-task-<allocId>-<task>-<service>-<port label>` (a group-level service has `group-<group>` as its task); not a global id.',
    }),
    serviceName: t.exposeString('ServiceName', { description: 'The service\'s name from the job spec; every allocation of the group registers it again.' }),
    namespace: t.exposeString('Namespace', { description: 'The namespace of the job that registered the service.' }),
    nodeId: t.exposeID('NodeID', { description: 'Nomad\'s id (UUID) of the client node the allocation runs on; not a global id.' }),
    datacenter: t.exposeString('Datacenter', { description: 'The datacenter of that node.' }),
    jobId: t.exposeString('JobID', { description: 'Nomad\'s id of the job whose `service` block made the registration.' }),
    allocId: t.exposeID('AllocID', { description: 'Nomad\'s id (UUID) of the allocation that registered the service; not a global id.' }),
    tags: t.stringList({
      description: 'The service\'s tags from the job spec (its canary tags while the allocation is a canary); empty when none.',
      resolve: (s) => s.Tags ?? [],
    }),
    address: t.exposeString('Address', {
      description: 'The IP address the service is registered at, as the client determined it; it may not be reachable from everywhere.',
    }),
    port: t.exposeInt('Port', { description: 'The port number the service is registered at.' }),
    createIndex: t.field({ type: 'Uint64', description: 'The Raft index at which Nomad stored the registration.', resolve: (s) => s.CreateIndex }),
    modifyIndex: t.field({ type: 'Uint64', description: 'The Raft index of the registration\'s last change.', resolve: (s) => s.ModifyIndex }),
  }),
});
