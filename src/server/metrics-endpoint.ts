import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';

/** Where Prometheus scrapes the gateway: on its own port, without auth, like `/healthz`. */
export const METRICS_PATH = '/metrics';

/** Whether a request line's target is the metrics endpoint (its path, whatever the query string). */
export function isMetricsRequest(url: string | undefined): boolean {
  return (url ?? '/').split('?', 1)[0] === METRICS_PATH;
}

/**
 * Serves `registry` in Prometheus's text exposition format on GET (and HEAD). What it shows is
 * counts, durations and gauges labelled with route templates, operation types and error codes:
 * no ids, tokens or names of anything in the cluster.
 */
export function createMetricsEndpoint(options: { registry: Registry; logger: Logger }): (req: IncomingMessage, res: ServerResponse) => void {
  const { registry, logger } = options;
  return (req, res) => {
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD', 'content-type': 'text/plain; charset=utf-8' });
      res.end('Only GET and HEAD are served at /metrics\n');
      return;
    }
    registry.metrics().then(
      (text) => {
        res.writeHead(200, { 'content-type': registry.contentType, 'content-length': Buffer.byteLength(text), 'cache-control': 'no-store' });
        res.end(req.method === 'HEAD' ? undefined : text);
      },
      (error: unknown) => {
        logger.error(`metrics: ${error instanceof Error ? `${error.name}: ${error.message}` : String(error)}`);
        res.writeHead(500, { 'content-type': 'text/plain; charset=utf-8' });
        res.end('Metrics could not be collected\n');
      },
    );
  };
}
