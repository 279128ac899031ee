import { listAllocations, readAllocation } from './routes/allocations.ts';
import { restartAllocation, signalAllocation, stopAllocation } from './routes/alloc-lifecycle.ts';
import { listNamespaces, readEvaluation, readJob, readNode, statusLeader } from './routes/cluster-objects.ts';
import type { Route } from './routes/context.ts';
import { jobAllocations, nodeAllocations } from './routes/object-allocations.ts';
import { allocationServices, jobServices } from './routes/services.ts';
import { HttpError } from './http-kit.ts';

/** A matched route: the endpoint's name (for request counts), its handler and path segments. */
export interface RouteMatch {
  /** e.g. `GET /v1/allocation/:id`; counts are kept per endpoint, whatever the method. */
  endpoint: string;
  handler: Route;
  segments: string[];
}

/** What Nomad does with a path it cannot serve. */
export type RouteMiss = 'fallthrough' | 'resource not found';

const ALLOC_ACTIONS: Record<string, { endpoint: string; handler: Route }> = {
  stop: { endpoint: 'PUT /v1/allocation/:id/stop', handler: stopAllocation },
  services: { endpoint: 'GET /v1/allocation/:id/services', handler: allocationServices },
};

/** Endpoint name of the exec WebSocket, which the upgrade handler serves. */
export const EXEC_ENDPOINT = 'WS /v1/client/allocation/:id/exec';

const CLIENT_ACTIONS: Record<string, { endpoint: string; handler: Route }> = {
  signal: { endpoint: 'PUT /v1/client/allocation/:id/signal', handler: signalAllocation },
  restart: { endpoint: 'PUT /v1/client/allocation/:id/restart', handler: restartAllocation },
  // A plain request to the exec path: the upgrade handler takes WebSocket ones.
  exec: {
    endpoint: EXEC_ENDPOINT,
    handler: () => {
      throw new HttpError(500, 'websocket connection not found in context');
    },
  },
};


const SINGLE_OBJECT: Record<string, { endpoint: string; handler: Route }> = {
  '/v1/job/': { endpoint: 'GET /v1/job/:id', handler: readJob },
  '/v1/node/': { endpoint: 'GET /v1/node/:id', handler: readNode },
  '/v1/evaluation/': { endpoint: 'GET /v1/evaluation/:id', handler: readEvaluation },
};

const OBJECT_ALLOCATIONS: { prefix: string; endpoint: string; handler: Route }[] = [
  { prefix: '/v1/job/', endpoint: 'GET /v1/job/:id/allocations', handler: jobAllocations },
  { prefix: '/v1/node/', endpoint: 'GET /v1/node/:id/allocations', handler: nodeAllocations },
];

/**
 * `/v1/job/<id>/allocations` and `/v1/node/<id>/allocations`. Nomad's handlers cut the suffix off
 * the decoded path (`JobSpecificRequest`, `NodeSpecificRequest`), so the id is everything in
 * between, slashes included. `/v1/node/pool/` is another handler's prefix in Nomad's mux.
 */
function matchObjectAllocations(pathname: string): RouteMatch | undefined {
  if (pathname.startsWith('/v1/node/pool/')) return undefined;
  for (const { prefix, endpoint, handler } of OBJECT_ALLOCATIONS) {
    if (!pathname.startsWith(prefix)) continue;
    const rest = decodeURIComponent(pathname.slice(prefix.length));
    if (rest.endsWith('/allocations')) return { endpoint, handler, segments: [rest.slice(0, -'/allocations'.length)] };
  }
  return undefined;
}

function splitSegments(rest: string): string[] {
  return rest.split('/').map((s) => decodeURIComponent(s));
}

/** Maps a path to its handler, following Nomad's mux (`registerHandlers`). */
export function matchRoute(pathname: string): RouteMatch | RouteMiss {
  if (pathname === '/v1/allocations') return { endpoint: 'GET /v1/allocations', handler: listAllocations, segments: [] };
  if (pathname === '/v1/namespaces') return { endpoint: 'GET /v1/namespaces', handler: listNamespaces, segments: [] };
  if (pathname === '/v1/status/leader') return { endpoint: 'GET /v1/status/leader', handler: statusLeader, segments: [] };
  if (pathname.startsWith('/v1/allocation/')) {
    const segments = splitSegments(pathname.slice('/v1/allocation/'.length));
    if (segments.length === 1) return { endpoint: 'GET /v1/allocation/:id', handler: readAllocation, segments };
    const action = segments.length === 2 ? ALLOC_ACTIONS[segments[1] ?? ''] : undefined;
    return action === undefined ? 'resource not found' : { ...action, segments };
  }
  if (pathname.startsWith('/v1/client/allocation/')) {
    const segments = splitSegments(pathname.slice('/v1/client/allocation/'.length));
    const action = segments.length === 2 ? CLIENT_ACTIONS[segments[1] ?? ''] : undefined;
    return action === undefined ? 'resource not found' : { ...action, segments };
  }
  const objectAllocations = matchObjectAllocations(pathname);
  if (objectAllocations !== undefined) return objectAllocations;
  const jobServicesMatch = /^\/v1\/job\/([^/]+)\/services$/.exec(pathname);
  if (jobServicesMatch !== null) {
    return { endpoint: 'GET /v1/job/:id/services', handler: jobServices, segments: [decodeURIComponent(jobServicesMatch[1] ?? '')] };
  }
  for (const [prefix, route] of Object.entries(SINGLE_OBJECT)) {
    if (pathname.startsWith(prefix)) {
      const segments = splitSegments(pathname.slice(prefix.length));
      if (segments.length === 1) return { ...route, segments };
    }
  }
  return 'fallthrough';
}

/** The id in `/v1/client/allocation/<id>/exec`, or undefined for any other path. */
export function matchExecPath(pathname: string): string | undefined {
  const match = /^\/v1\/client\/allocation\/([^/]*)\/exec$/.exec(pathname);
  return match === null ? undefined : decodeURIComponent(match[1] ?? '');
}
