// Loads every type file (they register themselves on the builder) and builds the schemas once.
import { builder } from './builder.ts';
import './scalars.ts';
import './enums.ts';
import './allocation.ts';
import './allocation-queries.ts';
import './allocation-mutations.ts';
import './job-allocations.ts';
import './node.ts';
import './allocation-subscriptions.ts';
import './exec.ts';
import './federation.ts';

/** What `/graphql` serves to direct clients: no `_service`, `_entities` or federation directives. */
export const schema = builder.toSchema({ sortSchema: false });

/**
 * What `/subgraph` serves to a federation router: the same types with `@key`s, `_service { sdl }`
 * and `_entities`, linked to Federation v2.9 (the newest spec both `@apollo/subgraph` 2.14 and
 * `@theguild/federation-composition` 0.27 know). Printed with `printSubgraphSchema`.
 */
export const subgraphSchema = builder.toSubGraphSchema({ linkUrl: 'https://specs.apollo.dev/federation/v2.9' });
