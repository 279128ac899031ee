import { createYoga, type YogaServerInstance } from 'graphql-yoga';
import type { Logger } from 'pino';
import { useQueryLimits } from './query-limits.ts';
import { yogaLogger } from './yoga-logging.ts';
import { createContext, tokenFromRequest, type Context } from '../context.ts';
import type { NomadClient } from '../nomad/client.ts';
import { subgraphSchema } from '../schema/index.ts';

/** Where a federation router (Apollo Router, Hive Gateway) reaches this service as a subgraph. */
export const SUBGRAPH_ENDPOINT = '/subgraph';

export interface SubgraphYogaOptions {
  nomad: NomadClient;
  /** Used for callers that send no token of their own (`NOMAD_TOKEN`), as on `/graphql`. */
  defaultToken: string | undefined;
  logger: Logger;
}

/**
 * The Federation v2 subgraph endpoint: the subgraph schema (`_service`, `_entities`, `@key`s) with
 * the same per-request context as `/graphql`. The router must forward the caller's
 * `X-Nomad-Token` (or `Authorization: Bearer`): every upstream call, `_entities` included, is
 * made with it. No GraphiQL: routers speak to it, people use `/graphql`.
 */
export function createSubgraphYoga(options: SubgraphYogaOptions): YogaServerInstance<Record<string, unknown>, Context> {
  const { nomad, defaultToken, logger } = options;
  return createYoga<Record<string, unknown>, Context>({
    schema: subgraphSchema,
    graphqlEndpoint: SUBGRAPH_ENDPOINT,
    landingPage: false,
    graphiql: false,
    maskedErrors: { isDev: false },
    logging: yogaLogger(logger, 'subgraph: '),
    plugins: [useQueryLimits()],
    context: ({ request }) => createContext(nomad, tokenFromRequest(request.headers, defaultToken)),
  });
}
