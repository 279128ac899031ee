import type { NomadNode } from '../nomad/types.ts';
import { builder } from './builder.ts';

/** GraphQL `Node`: a Nomad client node (the file is not node.ts, to keep clear of Relay's Node). */
export const NomadNodeRef = builder.objectRef<NomadNode>('Node').implement({
  description: 'A Nomad client node that runs allocations.',
  fields: (t) => ({
    id: t.exposeID('ID'),
    name: t.exposeString('Name'),
    datacenter: t.exposeString('Datacenter'),
    nodeClass: t.exposeString('NodeClass'),
    nodePool: t.exposeString('NodePool'),
    httpAddr: t.exposeString('HTTPAddr'),
    status: t.exposeString('Status', { description: '`initializing`, `ready`, `down` or `disconnected`.' }),
    statusDescription: t.exposeString('StatusDescription'),
    schedulingEligibility: t.exposeString('SchedulingEligibility'),
    drain: t.exposeBoolean('Drain'),
    attributes: t.field({ type: 'JSON', nullable: true, resolve: (node) => node.Attributes }),
    meta: t.field({ type: 'JSON', nullable: true, resolve: (node) => node.Meta }),
    statusUpdatedAt: t.field({
      type: 'DateTime',
      nullable: true,
      resolve: (node) => (node.StatusUpdatedAt === 0 ? null : new Date(node.StatusUpdatedAt * 1000).toISOString().replace('.000Z', 'Z')),
    }),
    createIndex: t.field({ type: 'Uint64', resolve: (node) => node.CreateIndex }),
    modifyIndex: t.field({ type: 'Uint64', resolve: (node) => node.ModifyIndex }),
  }),
});
