/**
 * The fast path of `/graphql`: a plain `POST` of a JSON query or mutation, the request every
 * GraphQL client sends most, answered straight from node's request and response objects instead
 * of through yoga's Fetch-API request pipeline (a Request and a Response ponyfill per request,
 * the dearest part of a small query). It still runs the operation through yoga's envelop, so
 * every envelop plugin applies exactly as on yoga's path: parse and validation caches, query
 * limits, introspection switch, rate limits, error masking, operation outcomes (request log,
 * metrics, traces). What yoga's request pipeline adds is done here the same way: the answer
 * (status, media type, body) by yoga's own `processRegularResult`, CORS headers by the function
 * yoga's CORS plugin uses, the request id. Anything else — another method, media type, URL or
 * Accept, a body that is not a plain `{ query, operationName?, variables? }` (persisted queries,
 * extensions, batches), a subscription — is handed to yoga unchanged, the body it has already
 * read included. Not used in trusted-documents mode.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { getCORSHeadersByRequestAndOptions, type CORSOptions } from '@whatwg-node/server';
import { getOperationAST, GraphQLError, type DocumentNode, type ExecutionResult } from 'graphql';
import { processRegularResult, type YogaServerInstance } from 'graphql-yoga';
import type { Logger } from 'pino';
import type { Context } from '../context.ts';
import { tokenFromHeaders } from '../nomad/token.ts';
import type { HeaderReader } from './operation-outcome.ts';
import { REQUEST_ID_HEADER, requestIdFrom } from './request-log.ts';
import { yogaLogger } from './yoga-logging.ts';

type Yoga = YogaServerInstance<Record<string, unknown>, Context>;

export interface FastPathOptions {
  /** The `/graphql` yoga: its envelop runs the operations, and it answers what the fast path does not take. */
  yoga: Yoga;
  /** yoga's `cors` option as given to it: undefined (any origin), false (none) or the allow-list options. */
  cors: CORSOptions | undefined;
  /** Where an unexpected error is logged, as yoga logs it on its own path (`yoga-logging.ts`). */
  logger: Logger;
}

/** The parameters of a plain GraphQL request. */
export interface PlainParams {
  query: string;
  operationName: string | undefined;
  variables: Record<string, unknown> | undefined;
}

/** Answers a request if it is the fast path's to answer (true), or returns false at once and leaves it to the caller. */
export type FastPath = (req: IncomingMessage, res: ServerResponse) => boolean;

const JSON_CONTENT_TYPE = /^application\/json\s*(?:;\s*charset\s*=\s*"?utf-8"?\s*)?$/i;

/**
 * The media type yoga answers a single (not streamed) result with for an `Accept` header, or
 * undefined when it would not answer with JSON (the request then goes to yoga). yoga tries every
 * listed type that names a UTF-8 charset or none, ignoring q-values, and the first listed one that
 * matches a JSON type wins: `application/graphql-response+json` as itself, `application/json`,
 * `application/*` and `*\/*` as `application/json`.
 */
export function negotiateJson(accept: string | undefined): 'application/json' | 'application/graphql-response+json' | undefined {
  for (const entry of (accept ?? '*/*').replace(/\s/g, '').toLowerCase().split(',')) {
    const [mediaType = '', ...params] = entry.split(';');
    const charset = params.find((param) => param.includes('charset=')) ?? 'charset=utf-8';
    if (charset !== 'charset=utf-8') continue;
    if (mediaType === 'application/graphql-response+json') return mediaType;
    if (mediaType === 'application/json' || mediaType === 'application/*' || mediaType === '*/*') return 'application/json';
    // Another type yoga can answer with (SSE, multipart): it would pick it over a later JSON one
    // only for a stream, but stay on the safe side and let yoga decide.
    if (/^(?:text\/(?:event-stream|\*)|multipart\/(?:mixed|\*))$/.test(mediaType)) return undefined;
  }
  return undefined;
}

/** The body's parameters when it is a plain request, else undefined (yoga then reads it, with its own checks and errors). */
export function plainParams(body: unknown): PlainParams | undefined {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) return undefined;
  for (const key of Object.keys(body)) if (key !== 'query' && key !== 'operationName' && key !== 'variables') return undefined;
  const { query, operationName, variables } = body as Record<string, unknown>;
  if (typeof query !== 'string') return undefined;
  if (operationName !== undefined && operationName !== null && typeof operationName !== 'string') return undefined;
  if (variables !== undefined && variables !== null && (typeof variables !== 'object' || Array.isArray(variables))) return undefined;
  return {
    query,
    operationName: operationName ?? undefined,
    variables: (variables ?? undefined) as Record<string, unknown> | undefined,
  };
}

/** node's request headers as the Fetch API's `get` reads them (repeated headers joined). */
function headerReader(req: IncomingMessage): HeaderReader & { get(name: string): string | null } {
  return {
    get: (name) => {
      const value = req.headers[name.toLowerCase()];
      if (value === undefined) return null;
      return Array.isArray(value) ? value.join(', ') : value;
    },
  };
}

/** Reads a request body whose length is known and bounded (app.ts refuses others before this runs). */
function readBody(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.once('end', () => resolve(chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks)));
    req.once('error', reject);
  });
}

/** What `processRegularResult` builds, caught instead of a Fetch `Response`. */
interface Answer {
  body: string;
  status: number;
  headers: Record<string, string>;
}

/** A stand-in for yoga's Fetch API with only the `Response` constructor `processRegularResult` calls. */
class AnswerResponse implements Answer {
  readonly body: string;
  readonly status: number;
  readonly headers: Record<string, string>;
  constructor(body: string | null, init: { status?: number; headers?: Record<string, string> } = {}) {
    this.body = body ?? '';
    this.status = init.status ?? 200;
    this.headers = { ...init.headers };
  }
}
const ANSWER_FETCH_API = { Response: AnswerResponse } as unknown as Parameters<typeof processRegularResult>[1];

function answerOf(result: ExecutionResult, mediaType: string): Answer {
  return processRegularResult(result, ANSWER_FETCH_API, mediaType) as unknown as Answer;
}

/**
 * `parse`, with a failure marked as yoga marks it on its HTTP path (where the request is in the
 * context, which it is not here): `GRAPHQL_PARSE_FAILED` unless it has a code, and HTTP 400.
 */
function parseAsYogaDoes(parse: (source: string) => DocumentNode, query: string): DocumentNode {
  try {
    return parse(query);
  } catch (error) {
    if (error instanceof GraphQLError) {
      const extensions = error.extensions as Record<string, unknown>;
      extensions['code'] ||= 'GRAPHQL_PARSE_FAILED';
      const http = (typeof extensions['http'] === 'object' && extensions['http'] !== null ? extensions['http'] : (extensions['http'] = {})) as Record<string, unknown>;
      http['spec'] ||= true;
      http['status'] ||= 400;
    }
    throw error;
  }
}

/** Whether the request's line and headers make it a candidate: the body is not read yet. */
function isCandidate(req: IncomingMessage, endpoint: string): boolean {
  return req.method === 'POST' && req.url === endpoint && JSON_CONTENT_TYPE.test(req.headers['content-type'] ?? '');
}

export function createFastPath(options: FastPathOptions): FastPath {
  const { yoga, cors } = options;
  const endpoint = yoga.graphqlEndpoint;
  const log = yogaLogger(options.logger);
  /**
   * Logs an error answered as `Unexpected error.` as yoga's path does: the caller going away (an
   * abort, or a connection already closed) at `debug`, anything else at `error` by its name and
   * message only (`yoga-logging.ts`: a stack or the request could carry a token).
   */
  const logUnexpected = (error: unknown, res: ServerResponse): void => {
    const aborted = error instanceof Error && (error.name === 'AbortError' || error.name === 'TimeoutError');
    if (aborted || res.destroyed) log.debug('Request aborted');
    else log.error(error);
  };

  /** yoga answers instead, from the body already read (its node adapter takes a read body as `req.body`). */
  const handOver = (req: IncomingMessage, res: ServerResponse, body: Buffer): void => {
    Object.assign(req, { body });
    void yoga(req, res);
  };

  const run = async (req: IncomingMessage, res: ServerResponse, mediaType: string): Promise<void> => {
    const body = await readBody(req);
    let parsed: unknown;
    try {
      parsed = JSON.parse(body.toString('utf8'));
    } catch {
      handOver(req, res, body);
      return;
    }
    const params = plainParams(parsed);
    if (params === undefined) {
      handOver(req, res, body);
      return;
    }
    const headers = headerReader(req);
    const requestId = requestIdFrom(headers.get(REQUEST_ID_HEADER));
    const aborted = new AbortController();
    res.once('close', () => {
      if (!res.writableFinished) aborted.abort(new DOMException('The caller went away', 'AbortError'));
    });
    const initial = {
      caller: { token: tokenFromHeaders(headers), signal: aborted.signal },
      requestId,
      params,
      transport: 'http',
      headers,
    };
    const enveloped = yoga.getEnveloped(initial);
    let result: ExecutionResult;
    try {
      const document = parseAsYogaDoes(enveloped.parse, params.query);
      if (getOperationAST(document, params.operationName)?.operation === 'subscription') {
        // A stream (or yoga's 406): yoga's. What was started for it here is dropped unreported.
        handOver(req, res, body);
        return;
      }
      const errors = enveloped.validate(enveloped.schema, document);
      if (errors.length > 0) {
        result = { errors };
      } else {
        const contextValue = await enveloped.contextFactory();
        result = (await enveloped.execute({
          schema: enveloped.schema,
          document,
          contextValue,
          variableValues: params.variables,
          operationName: params.operationName,
        })) as ExecutionResult;
      }
    } catch (error) {
      // A parse error (syntax, token limit), or a failure yoga would mask (and log) the same way.
      if (!(error instanceof GraphQLError)) logUnexpected(error, res);
      result = { errors: [error instanceof GraphQLError ? error : new GraphQLError('Unexpected error.', { extensions: { code: 'INTERNAL_SERVER_ERROR', unexpected: true } })] };
    }
    if (res.destroyed) return;
    const answer = answerOf(result, mediaType);
    const corsHeaders = cors === false ? null : getCORSHeadersByRequestAndOptions({ headers } as unknown as Request, cors ?? {});
    res.writeHead(answer.status, {
      ...answer.headers,
      ...corsHeaders,
      'content-length': Buffer.byteLength(answer.body),
      [REQUEST_ID_HEADER]: requestId,
    });
    res.end(answer.body);
  };

  return (req, res) => {
    if (!isCandidate(req, endpoint)) return false;
    const mediaType = negotiateJson(req.headers.accept);
    if (mediaType === undefined) return false;
    run(req, res, mediaType).catch((error: unknown) => {
      logUnexpected(error, res);
      if (!res.headersSent) res.writeHead(500, { 'content-type': 'application/json; charset=utf-8' });
      res.end(JSON.stringify({ errors: [{ message: 'Unexpected error.', extensions: { code: 'INTERNAL_SERVER_ERROR' } }] }));
    });
    return true;
  };
}
