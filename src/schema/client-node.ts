import type { NomadNode } from '../nomad/types.ts';
import { builder } from './builder.ts';
import { encodeGlobalId } from './global-id.ts';

/** A Nomad client node. Not GraphQL `Node`: that name is Relay's interface for refetchable objects. */
export const ClientNodeRef = builder.objectRef<NomadNode>('ClientNode').implement({
  description: 'A Nomad client node: a machine that runs allocations.',
  interfaces: [builder.nodeInterfaceRef()],
  fields: (t) => ({
    id: t.id({
      description: 'A global id, unique across types, that `node(id:)` finds this client node by. Nomad\'s own id is `nodeId`.',
      resolve: (node) => encodeGlobalId({ type: 'ClientNode', id: node.ID }),
    }),
    nodeId: t.exposeID('ID', { description: 'Nomad\'s id of the node, a UUID (what `nomad node status` takes).' }),
    name: t.exposeString('Name', { description: 'The node\'s name: the client\'s `name` setting, by default the machine\'s hostname.' }),
    datacenter: t.exposeString('Datacenter', { description: 'The datacenter the client is configured in, e.g. `dc1`.' }),
    nodeClass: t.exposeString('NodeClass', {
      description: 'An operator-chosen label for similar nodes (the client\'s `node_class`), usable in constraints; empty when not set.',
    }),
    nodePool: t.exposeString('NodePool', { description: 'The node pool the node belongs to, e.g. `default`.' }),
    httpAddr: t.exposeString('HTTPAddr', { description: 'The `host:port` of the client agent\'s HTTP API, e.g. `10.0.0.12:4646`.' }),
    status: t.exposeString('Status', {
      description: 'The node\'s status as the servers see it: `initializing`, `ready`, `down` (it missed its heartbeats) or `disconnected` (it missed them, but runs allocations allowed to reconnect).',
    }),
    statusDescription: t.exposeString('StatusDescription', { description: 'Why the node has its status, in words; often empty.' }),
    schedulingEligibility: t.exposeString('SchedulingEligibility', {
      description: '`eligible` or `ineligible`: whether the scheduler may place new allocations on the node (those already there keep running).',
    }),
    drain: t.boolean({
      description: 'Whether the node is being drained: its allocations are being moved off and it takes no new ones.',
      // The full node has no `Drain` flag (only list stubs do): a drain strategy is set while draining.
      resolve: (node) => node.DrainStrategy !== null,
    }),
    attributes: t.field({
      type: 'JSON',
      nullable: true,
      description: 'What the client detected about the machine, as string keys and values (e.g. `kernel.name`, `cpu.arch`, `driver.docker`), usable in constraints as `${attr.<key>}`. Null when none.',
      resolve: (node) => node.Attributes,
    }),
    meta: t.field({
      type: 'JSON',
      nullable: true,
      description: 'The client\'s `meta` block: operator-set string keys and values, usable in constraints as `${meta.<key>}`. Null when none.',
      resolve: (node) => node.Meta,
    }),
    statusUpdatedAt: t.field({
      type: 'DateTime',
      nullable: true,
      description: 'When Nomad last recorded the node\'s status, to the second; null when never.',
      resolve: (node) => (node.StatusUpdatedAt === 0 ? null : new Date(node.StatusUpdatedAt * 1000).toISOString().replace('.000Z', 'Z')),
    }),
    createIndex: t.field({ type: 'Uint64', description: 'The Raft index at which the node first registered.', resolve: (node) => node.CreateIndex }),
    modifyIndex: t.field({ type: 'Uint64', description: 'The Raft index of the node\'s last change.', resolve: (node) => node.ModifyIndex }),
  }),
});
