import { renderGraphiQL } from '@graphql-yoga/render-graphiql';
import { createYoga, useReadinessCheck, type YogaServerInstance } from 'graphql-yoga';
import type { Logger } from 'pino';
import { useQueryLimits } from './query-limits.ts';
import { yogaLogger } from './yoga-logging.ts';
import { createContext, tokenFromRequest, type Context } from '../context.ts';
import type { NomadClient } from '../nomad/client.ts';
import { schema } from '../schema/index.ts';

/** What GraphiQL opens with: a first page of allocations across namespaces. */
export const GRAPHIQL_DEFAULT_QUERY = `# Allocations across every namespace your token can read, oldest first.
# Open one with allocation(id: "<id or 8+ hex prefix>") to see its task events,
# services, job and node; stop, signal or restart it with the mutations.
query Allocations($after: String) {
  allocations(namespace: "*", first: 20, after: $after) {
    edges {
      node {
        id
        name
        namespace
        jobId
        clientStatus
        desiredStatus
        nodeName
        taskStates { name state restarts }
      }
    }
    pageInfo { hasNextPage endCursor }
  }
}
`;

export interface GatewayYogaOptions {
  nomad: NomadClient;
  /** Used for callers that send no token of their own (`NOMAD_TOKEN`). */
  defaultToken: string | undefined;
  logger: Logger;
}

/**
 * The GraphQL endpoint: schema built once at import, parse and validation cached by yoga,
 * a fresh context (and loaders) per request, unexpected errors masked without stack traces.
 */
export function createGatewayYoga(options: GatewayYogaOptions): YogaServerInstance<Record<string, unknown>, Context> {
  const { nomad, defaultToken, logger } = options;
  return createYoga<Record<string, unknown>, Context>({
    schema,
    graphqlEndpoint: '/graphql',
    healthCheckEndpoint: '/healthz',
    landingPage: false,
    maskedErrors: { isDev: false },
    graphiql: { title: 'Nomad GraphQL gateway', defaultQuery: GRAPHIQL_DEFAULT_QUERY },
    renderGraphiQL,
    logging: yogaLogger(logger),
    context: ({ request }) => createContext(nomad, tokenFromRequest(request.headers, defaultToken)),
    plugins: [
      useQueryLimits(),
      useReadinessCheck({
        endpoint: '/readyz',
        check: async () => {
          // No ACL needed for the leader endpoint: this answers "can we reach Nomad".
          // A plain 503 on failure: yoga would otherwise send the error's text, which names
          // Nomad's internal address, to anyone who can reach this unauthenticated endpoint.
          try {
            await nomad.statusLeader({ timeoutMs: 2_000 });
            return true;
          } catch (error) {
            logger.warn(`readiness check failed: ${error instanceof Error ? `${error.name}: ${error.message}` : String(error)}`);
            return false;
          }
        },
      }),
    ],
  });
}
