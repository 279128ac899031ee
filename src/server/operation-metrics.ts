import type { Plugin } from 'graphql-yoga';
import type { GatewayMetrics } from '../observability/metrics.ts';
import { useOperationOutcomes } from './operation-outcome.ts';

/**
 * Counts every GraphQL operation of a yoga instance when it ends, by type, and the errors of its
 * results by `extensions.code` (masked unexpected errors as `INTERNAL`), over HTTP, SSE and graphql-ws.
 */
export function useOperationMetrics(metrics: Pick<GatewayMetrics, 'graphqlOperation'>): Plugin {
  return useOperationOutcomes({
    onOutcome: (outcome) => metrics.graphqlOperation({ type: outcome.operationType, errorCodes: outcome.errorCodes }),
  });
}
