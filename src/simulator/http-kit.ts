import type { IncomingMessage, ServerResponse } from 'node:http';
import { gzipSync } from 'node:zlib';
import { encodeNomadJson } from '../nomad/json.ts';

/** An answer Nomad gives as a plain-text error: `status` plus the exact body text. */
export class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
    this.name = 'HttpError';
  }
}

/** The `X-Nomad-*` headers of a read. */
export interface ResponseMeta {
  index: bigint;
  nextToken?: string;
}

/** Bodies below this size are not worth compressing. */
const GZIP_MIN_BYTES = 1024;

function wantsGzip(req: IncomingMessage): boolean {
  const accept = req.headers['accept-encoding'];
  return typeof accept === 'string' && /\bgzip\b/.test(accept);
}

/** Writes the X-Nomad-* headers: index, known leader, last contact, and the next token when set. */
export function setMetaHeaders(res: ServerResponse, meta: ResponseMeta): void {
  res.setHeader('X-Nomad-Index', meta.index.toString());
  res.setHeader('X-Nomad-Knownleader', 'true');
  res.setHeader('X-Nomad-Lastcontact', '0');
  if (meta.nextToken !== undefined && meta.nextToken !== '') res.setHeader('X-Nomad-Nexttoken', meta.nextToken);
}

/** 200 with a JSON body encoded as Nomad does (sorted keys, `?pretty`), gzipped when asked. */
export function sendJson(req: IncomingMessage, res: ServerResponse, body: unknown, pretty: boolean): void {
  const text = encodeNomadJson(body, { pretty });
  res.setHeader('Content-Type', 'application/json');
  let payload: Buffer = Buffer.from(text);
  if (payload.length >= GZIP_MIN_BYTES && wantsGzip(req)) {
    payload = gzipSync(payload);
    res.setHeader('Content-Encoding', 'gzip');
  }
  res.setHeader('Vary', 'Accept-Encoding');
  res.statusCode = 200;
  res.end(payload);
}

/** A Nomad error: `text/plain; charset=utf-8`, the bare message, no trailing newline. */
export function sendError(res: ServerResponse, status: number, message: string): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  res.statusCode = status;
  res.setHeader('Content-Type', 'text/plain; charset=utf-8');
  res.end(message);
}

/** Nomad's answer to an unrouted path: 404 with an empty body and no content type. */
export function sendFallthrough(res: ServerResponse): void {
  res.statusCode = 404;
  res.end();
}

/** Requests bodies larger than this are refused without buffering them. */
export const MAX_BODY_BYTES = 16 * 1024 * 1024;

/**
 * Reads a request body as text. Stops reading past MAX_BODY_BYTES and answers 413, so a huge
 * body costs no memory.
 */
export async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    const buffer = Buffer.isBuffer(chunk) ? chunk : Buffer.from(String(chunk));
    size += buffer.length;
    if (size > MAX_BODY_BYTES) {
      req.resume();
      throw new HttpError(413, 'Request body too large');
    }
    chunks.push(buffer);
  }
  return Buffer.concat(chunks).toString('utf8');
}
