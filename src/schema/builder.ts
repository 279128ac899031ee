import SchemaBuilder from '@pothos/core';
import DirectivePlugin from '@pothos/plugin-directives';
import FederationPlugin from '@pothos/plugin-federation';
import RelayPlugin from '@pothos/plugin-relay';
import type { Context } from '../context.ts';


/**
 * The one Pothos builder. It holds no runtime state: everything a resolver needs comes from
 * the per-request context. Type files register themselves on it; `schema/index.ts` loads them.
 * Federation comes after any plugin that wraps resolvers (stack.md gotcha 8); it needs the
 * directives plugin before it.
 */
export const builder = new SchemaBuilder<{
  Context: Context;
  DefaultFieldNullability: false;
  Scalars: {
    ID: { Input: string; Output: string };
    DateTime: { Input: string; Output: string };
    Duration: { Input: string; Output: bigint };
    Uint64: { Input: bigint; Output: bigint };
    JSON: { Input: unknown; Output: unknown };
  };
}>({
  plugins: [RelayPlugin, DirectivePlugin, FederationPlugin],
  defaultFieldNullability: false,
  relay: {
    clientMutationId: 'omit',
    cursorType: 'String',
    // node(id:) and nodes(ids:) are our own (schema/node.ts): global ids this API defines, with coded errors.
    nodeQueryOptions: false,
    nodesQueryOptions: false,
    nodeTypeOptions: {
      description: 'An object with a global id that `node(id:)` refetches (Relay\'s Global Object Identification).',
    },
    idFieldOptions: {
      description: 'The object\'s global id: opaque, unique across types (and namespaces), and accepted by `node(id:)` and `nodes(ids:)`.',
    },
    // Descriptions of the Relay-generated connection parts, shared by every connection; a
    // connection's own edges/node descriptions (in its `t.connection` options) take precedence.
    pageInfoTypeOptions: {
      description: 'Where a page of a connection sits in the whole list, with the cursors to page on from.',
    },
    hasNextPageFieldOptions: {
      description: 'Whether more items follow this page; fetch them with `first` and `after: endCursor`.',
    },
    hasPreviousPageFieldOptions: {
      description: 'Whether items come before this page; always false on a first page read forwards without `after`. Fetch them with `last` and `before: startCursor`.',
    },
    startCursorFieldOptions: { description: 'The cursor of the page\'s first edge; null when the page is empty.' },
    endCursorFieldOptions: { description: 'The cursor of the page\'s last edge; null when the page is empty.' },
    pageInfoFieldOptions: { description: 'Whether more items lie before or after this page, and the cursors of its first and last edges.' },
    edgesFieldOptions: { description: 'The items of this page, each with its cursor, in the list\'s order.' },
    nodeFieldOptions: { description: 'The item at this position of the list.' },
    cursorFieldOptions: {
      description: 'An opaque cursor for this position: pass it as `after` (or `before`) to the same query to continue from here.',
    },
    firstArgOptions: { description: 'Return at most this many items from the start of the list, or after `after`. Not with `last` or `before`.' },
    afterArgOptions: { description: 'Start after this cursor (an edge\'s `cursor` or `pageInfo.endCursor` from the same query). Use with `first`.' },
    lastArgOptions: { description: 'Return at most this many items from the end of the list, or before `before`. Not with `first` or `after`.' },
    beforeArgOptions: { description: 'End before this cursor (an edge\'s `cursor` or `pageInfo.startCursor` from the same query). Use with `last`.' },
  },
});

builder.queryType({ description: 'Reads of Nomad allocations and what they point to.' });
builder.mutationType({ description: 'Allocation lifecycle actions, validated as Nomad validates them.' });
builder.subscriptionType({
  description: 'Live views of allocations, over graphql-ws or SSE: one upstream Nomad blocking query per distinct question and token, shared by every subscriber.',
});
