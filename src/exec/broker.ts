/**
 * Exec sessions on this replica, and the routing of keystrokes to the replica that holds a
 * session. The replica that runs `execAllocation` holds the upstream connection; `execInput` and
 * `execResize` may land on any replica: applied here when the session is here, otherwise sent on
 * the session's backbone channel to its holder, which answers once the bytes are written
 * upstream. Depends only on the `ExecTransport` and `Backbone` interfaces.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import type { GraphQLError } from 'graphql';
import type { Logger } from 'pino';
import { ErrorCode, gatewayError } from '../error-codes.ts';
import type { Caller } from '../nomad/caller-client.ts';
import type { NomadClient } from '../nomad/client.ts';
import type { Backbone } from '../pubsub/backbone.ts';
import { tokenDigest } from '../watch/watch-key.ts';
import { execEndError } from './exec-errors.ts';
import { decodeExecReply, decodeExecRequest, encodeExecReply, encodeExecRequest, type ExecReplyMessage, type ExecRequestMessage } from './routing-messages.ts';
import { batchOutput } from './output-batches.ts';
import type { ExecConnection, ExecOutputFrame, ExecTransport } from './transport.ts';

/** Bounds of exec sessions. */
export interface ExecLimits {
  /** Sessions one token may hold open on one replica. */
  sessionsPerToken: number;
  /** Sessions one replica holds. */
  sessionsPerReplica: number;
  /** Bytes one `execInput` may carry. */
  maxInputBytes: number;
  /** A session with neither input nor output this long is ended (EXEC_IDLE_TIMEOUT). */
  idleTimeoutMs: number;
  /** How long a fresh session is watched for Nomad's refusal before `ExecStarted` is sent (cut short by its first output). */
  startGraceMs: number;
  /** How long a replica waits for the holder of a session to apply a keystroke. */
  remoteTimeoutMs: number;
}

export const EXEC_LIMITS: ExecLimits = {
  sessionsPerToken: 10,
  sessionsPerReplica: 200,
  maxInputBytes: 64 * 1024,
  idleTimeoutMs: 30 * 60_000,
  startGraceMs: 250,
  remoteTimeoutMs: 10_000,
};

/** What a session's subscriber receives. */
export type ExecSessionEvent =
  | { kind: 'started'; sessionId: string }
  | { kind: 'output'; stream: 'stdout' | 'stderr'; data: Buffer }
  | { kind: 'exited'; exitCode: number; signal: number | null; oomKilled: boolean }
  /** The last event when the session ends in error: it resolves to this error. */
  | { kind: 'failed'; error: GraphQLError };

export interface ExecStartRequest {
  /** Nomad's allocation UUID. */
  allocationId: string;
  task: string;
  command: string[];
  tty: boolean;
  size?: { height: number; width: number };
  caller: Caller;
}

export interface ExecSessions {
  /**
   * Checks the allocation and task with the caller's token, opens the session and resolves with
   * its events once Nomad had a chance to refuse it (then this rejects with a coded error, or the
   * Nomad client's error for the checks). The stream starts with `started`.
   */
  start(request: ExecStartRequest): Promise<AsyncIterable<ExecSessionEvent>>;
  /** Writes to a session's stdin (and/or closes it), on whichever replica holds it. */
  input(request: { sessionId: string; data: Buffer; close: boolean; caller: Caller }): Promise<{ bytesWritten: number }>;
  resize(request: { sessionId: string; height: number; width: number; caller: Caller }): Promise<void>;
}

export interface ExecBroker extends ExecSessions {
  /** Sessions held here. */
  sessionCount(): number;
  /** Shutdown, first: refuses new sessions (SHUTTING_DOWN); the open ones go on until `stop()`. */
  drain(): void;
  /**
   * Ends every session held here (its command too) and stops answering for them. A session's
   * subscriber gets a last event with SHUTTING_DOWN; this resolves once every subscriber that was
   * reading has taken it, so a transport closed afterwards has it already. Idempotent.
   */
  stop(): Promise<void>;
}

export interface ExecBrokerOptions {
  transport: ExecTransport;
  /** For the checks before a session opens (the allocation, its status, the task's state). */
  nomad: NomadClient;
  backbone: Backbone;
  /** Unique per process: where other replicas send their answers. */
  replicaId?: string;
  logger: Logger;
  limits?: Partial<ExecLimits>;
}

interface Session {
  id: string;
  tokenDigest: string;
  /** Started with a terminal: only then does a resize mean anything. */
  tty: boolean;
  connection: ExecConnection;
  /** The connection's output, already asked for its first frame (`firstFrame`) by `start`. */
  frames: AsyncIterator<ExecOutputFrame>;
  firstFrame: Promise<IteratorResult<ExecOutputFrame>>;
  /** Stdin writes and resizes, applied one after the other in the order they were accepted. */
  chain: Promise<unknown>;
  lastActivity: number;
  idleClosed: boolean;
  /** Ended by `stop()`: its subscriber's last event says SHUTTING_DOWN. */
  shutDown: boolean;
  /** Whether a subscriber is reading its events (then `stop()` waits for `finished`). */
  reading: boolean;
  /** Settles once its events are over (the last one taken, or the subscriber gone). */
  finished: Promise<void>;
  markFinished: () => void;
  unsubscribe: () => Promise<void>;
}

const TERMINAL_CLIENT_STATUSES = new Set(['complete', 'failed', 'lost']);

function sessionChannel(sessionId: string): string {
  return `exec:${sessionId}`;
}

function replyChannel(replicaId: string): string {
  return `exec-reply:${replicaId}`;
}

export function createExecBroker(options: ExecBrokerOptions): ExecBroker {
  const { transport, nomad, backbone, logger } = options;
  const limits: ExecLimits = { ...EXEC_LIMITS, ...options.limits };
  const replicaId = options.replicaId ?? randomUUID();
  const sessions = new Map<string, Session>();
  const perToken = new Map<string, number>();
  const pending = new Map<string, { resolve: (reply: ExecReplyMessage) => void; timer: NodeJS.Timeout }>();
  let replies: Promise<() => Promise<void>> | undefined;
  let stopped = false;
  let draining = false;
  let stopping: Promise<void> | undefined;
  const shuttingDown = (): GraphQLError =>
    gatewayError(ErrorCode.SHUTTING_DOWN, 'This gateway replica is shutting down; start the exec session again (another replica will take it)');

  const idleSweep = setInterval(() => {
    const now = Date.now();
    for (const session of sessions.values()) {
      if (now - session.lastActivity >= limits.idleTimeoutMs) {
        session.idleClosed = true;
        session.connection.close();
      }
    }
  }, Math.max(50, Math.min(5_000, Math.floor(limits.idleTimeoutMs / 4))));
  idleSweep.unref();

  /** Applies an input or resize to a session held here, after everything accepted before it. */
  function applyHere(session: Session, work: () => Promise<void>): Promise<void> {
    session.lastActivity = Date.now();
    const done = session.chain.then(work);
    session.chain = done.catch(() => undefined);
    return done;
  }

  function checkInputSize(data: Buffer): void {
    if (data.length > limits.maxInputBytes) {
      throw gatewayError(ErrorCode.BAD_USER_INPUT, `An execInput carries at most ${limits.maxInputBytes} bytes; split it`, { maximum: limits.maxInputBytes });
    }
  }

  /** A request another replica sent on the channel of session `sessionId`, held here. */
  async function onRequest(sessionId: string, text: string): Promise<void> {
    let request: ExecRequestMessage;
    try {
      request = decodeExecRequest(text);
    } catch (error) {
      logger.error(`exec: dropped an undecodable request: ${error instanceof Error ? error.message : String(error)}`);
      return;
    }
    let reply: ExecReplyMessage;
    try {
      const session = sessions.get(sessionId);
      if (session === undefined) throw notFound();
      if (session.tokenDigest !== request.tokenDigest) throw forbidden();
      if (request.kind === 'input') {
        checkInputSize(request.data);
        await applyInput(session, request.data, request.close);
        reply = { requestId: request.requestId, ok: true, bytesWritten: request.data.length };
      } else {
        checkTty(session);
        await applyHere(session, () => session.connection.resize({ height: request.height, width: request.width }));
        reply = { requestId: request.requestId, ok: true, bytesWritten: 0 };
      }
    } catch (error) {
      const code = typeof (error as GraphQLError).extensions?.['code'] === 'string' ? String((error as GraphQLError).extensions['code']) : ErrorCode.UPSTREAM_UNAVAILABLE;
      reply = { requestId: request.requestId, ok: false, code, message: error instanceof Error ? error.message : String(error) };
    }
    await backbone.publish(replyChannel(request.replyTo), encodeExecReply(reply)).catch((error: unknown) => {
      logger.warn(`exec: could not answer ${request.replyTo}: ${error instanceof Error ? error.message : String(error)}`);
    });
  }

  function applyInput(session: Session, data: Buffer, close: boolean): Promise<void> {
    return applyHere(session, async () => {
      if (data.length > 0) await session.connection.write(data);
      if (close) await session.connection.closeStdin();
    });
  }

  function onReply(text: string): void {
    let reply: ExecReplyMessage;
    try {
      reply = decodeExecReply(text);
    } catch (error) {
      logger.error(`exec: dropped an undecodable reply: ${error instanceof Error ? error.message : String(error)}`);
      return;
    }
    const waiter = pending.get(reply.requestId);
    if (waiter === undefined) return;
    pending.delete(reply.requestId);
    clearTimeout(waiter.timer);
    waiter.resolve(reply);
  }

  function checkTty(session: Session): void {
    if (!session.tty) throw gatewayError(ErrorCode.FAILED_PRECONDITION, 'This exec session has no terminal (started without `tty`): there is nothing to resize');
  }

  function notFound(): GraphQLError {
    return gatewayError(ErrorCode.EXEC_SESSION_NOT_FOUND, 'No such exec session: it ended, or the id is wrong');
  }

  function forbidden(): GraphQLError {
    return gatewayError(ErrorCode.FORBIDDEN, 'This exec session belongs to another token');
  }

  /** Sends a request to whichever replica holds the session, and waits for its answer. */
  async function remote(sessionId: string, request: ExecRequestMessage): Promise<ExecReplyMessage> {
    replies ??= backbone.subscribe(replyChannel(replicaId), onReply);
    await replies;
    const answer = new Promise<ExecReplyMessage>((resolve) => {
      const timer = setTimeout(() => {
        pending.delete(request.requestId);
        resolve({
          requestId: request.requestId,
          ok: false,
          code: ErrorCode.UPSTREAM_UNAVAILABLE,
          message: 'The replica holding this exec session did not answer in time; the input may or may not have been written',
        });
      }, limits.remoteTimeoutMs);
      pending.set(request.requestId, { resolve, timer });
    });
    let receivers: number;
    try {
      receivers = await backbone.publish(sessionChannel(sessionId), encodeExecRequest(request));
    } catch (error) {
      const waiter = pending.get(request.requestId);
      clearTimeout(waiter?.timer);
      pending.delete(request.requestId);
      throw gatewayError(ErrorCode.UPSTREAM_UNAVAILABLE, `Cannot reach the replica holding this exec session: ${error instanceof Error ? error.message : String(error)}`);
    }
    if (receivers === 0) {
      const waiter = pending.get(request.requestId);
      clearTimeout(waiter?.timer);
      pending.delete(request.requestId);
      throw notFound();
    }
    return answer;
  }

  function fromReply(reply: ExecReplyMessage): { bytesWritten: number } {
    if (reply.ok) return { bytesWritten: reply.bytesWritten };
    const extensions = reply.code === ErrorCode.UPSTREAM_UNAVAILABLE ? { mayHaveApplied: true } : {};
    throw gatewayError(reply.code as ErrorCode, reply.message, extensions);
  }

  /** The checks Nomad's own error texts would make less clear: the allocation, its status, the task. */
  async function precheck(request: ExecStartRequest): Promise<void> {
    const { item: alloc } = await nomad.readAllocation(request.allocationId, { token: request.caller.token, signal: request.caller.signal });
    if (TERMINAL_CLIENT_STATUSES.has(alloc.ClientStatus)) {
      throw gatewayError(ErrorCode.FAILED_PRECONDITION, `Allocation ${alloc.ID} is ${alloc.ClientStatus}: nothing runs in it to exec into`);
    }
    const states = alloc.TaskStates ?? {};
    const state = states[request.task];
    if (state === undefined) {
      const known = Object.keys(states).sort();
      throw gatewayError(ErrorCode.BAD_USER_INPUT, `Allocation ${alloc.ID} has no task "${request.task}"${known.length > 0 ? `; its tasks: ${known.join(', ')}` : ''}`, {
        field: 'task',
      });
    }
    if (state.State !== 'running') {
      throw gatewayError(ErrorCode.FAILED_PRECONDITION, `Task "${request.task}" is ${state.State}, not running`);
    }
  }

  function release(session: Session): void {
    if (!sessions.delete(session.id)) return;
    const left = (perToken.get(session.tokenDigest) ?? 1) - 1;
    if (left <= 0) perToken.delete(session.tokenDigest);
    else perToken.set(session.tokenDigest, left);
    session.connection.close();
    void session.unsubscribe();
  }

  /** The session's events; leaving early (return) closes the upstream connection at once. */
  function events(session: Session, caller: Caller): AsyncIterableIterator<ExecSessionEvent> {
    const { connection } = session;
    const onAbort = (): void => connection.close();
    caller.signal?.addEventListener('abort', onAbort, { once: true });
    const generator = (async function* (): AsyncGenerator<ExecSessionEvent> {
      session.reading = true;
      try {
        yield { kind: 'started', sessionId: session.id };
        for await (const batch of batchOutput(session.frames, session.firstFrame)) {
          session.lastActivity = Date.now();
          yield { kind: 'output', stream: batch.stream, data: batch.data };
        }
        const end = await connection.ended;
        if (end.kind === 'exited') yield { kind: 'exited', exitCode: end.exitCode, signal: end.signal, oomKilled: end.oomKilled };
        else if (session.idleClosed) {
          yield {
            kind: 'failed',
            error: gatewayError(ErrorCode.EXEC_IDLE_TIMEOUT, `The exec session saw no input or output for ${limits.idleTimeoutMs} ms and was closed`),
          };
        } else if (session.shutDown) {
          yield {
            kind: 'failed',
            error: gatewayError(ErrorCode.SHUTTING_DOWN, 'The gateway replica is shutting down: this exec session was closed (its command ended); reconnect and start a new one'),
          };
        } else if (end.kind === 'refused' || end.kind === 'lost') yield { kind: 'failed', error: execEndError(end) };
      } finally {
        caller.signal?.removeEventListener('abort', onAbort);
        release(session);
        session.markFinished();
      }
    })();
    const iterator: AsyncIterableIterator<ExecSessionEvent> = {
      next: () => generator.next(),
      return: async () => {
        // Closing ends the output, so a generator parked on it resumes and finishes.
        connection.close();
        await generator.return(undefined);
        return { value: undefined, done: true };
      },
      [Symbol.asyncIterator]: () => iterator,
    };
    return iterator;
  }

  return {
    async start(request) {
      if (stopped || draining) throw shuttingDown();
      const digest = tokenDigest(request.caller.token);
      if (sessions.size >= limits.sessionsPerReplica) {
        throw gatewayError(ErrorCode.EXEC_SESSION_LIMIT, `This gateway replica holds ${limits.sessionsPerReplica} exec sessions already`, {
          maximum: limits.sessionsPerReplica,
        });
      }
      if ((perToken.get(digest) ?? 0) >= limits.sessionsPerToken) {
        throw gatewayError(ErrorCode.EXEC_SESSION_LIMIT, `A token may hold at most ${limits.sessionsPerToken} exec sessions at once on one replica`, {
          maximum: limits.sessionsPerToken,
        });
      }
      await precheck(request);
      const connection = await transport.open({
        allocationId: request.allocationId,
        task: request.task,
        command: request.command,
        tty: request.tty,
        size: request.size,
        token: request.caller.token,
      });
      // Nomad says no (no alloc-exec, a task that just stopped) right after the handshake, and
      // says nothing when all is well: give it a moment before calling the session started, or
      // less when the command already wrote something (then it runs).
      const frames = connection.output[Symbol.asyncIterator]();
      const firstFrame = frames.next();
      const early = await Promise.race([
        connection.ended,
        firstFrame.then((first) => (first.done === true ? connection.ended : undefined)),
        new Promise<undefined>((resolve) => {
          setTimeout(() => resolve(undefined), limits.startGraceMs).unref();
        }),
      ]);
      if (early !== undefined && (early.kind === 'refused' || early.kind === 'lost')) throw execEndError(early);
      if (stopped) {
        // `stop()` ran while this session was opening: it would be left out of the ending.
        connection.close();
        throw shuttingDown();
      }
      const id = randomBytes(16).toString('base64url');
      let markFinished = (): void => undefined;
      const finished = new Promise<void>((resolve) => {
        markFinished = resolve;
      });
      const session: Session = {
        id,
        tokenDigest: digest,
        tty: request.tty,
        connection,
        frames,
        firstFrame,
        chain: Promise.resolve(),
        lastActivity: Date.now(),
        idleClosed: false,
        shutDown: false,
        reading: false,
        finished,
        markFinished,
        unsubscribe: async () => undefined,
      };
      sessions.set(id, session);
      perToken.set(digest, (perToken.get(digest) ?? 0) + 1);
      try {
        // Before `started` goes out, so an input sent through another replica right after finds it.
        session.unsubscribe = await backbone.subscribe(sessionChannel(id), (text) => void onRequest(id, text));
      } catch (error) {
        release(session);
        throw gatewayError(ErrorCode.UPSTREAM_UNAVAILABLE, `Cannot open the exec session's channel: ${error instanceof Error ? error.message : String(error)}`);
      }
      return events(session, request.caller);
    },

    async input({ sessionId, data, close, caller }) {
      checkInputSize(data);
      const digest = tokenDigest(caller.token);
      const session = sessions.get(sessionId);
      if (session !== undefined) {
        if (session.tokenDigest !== digest) throw forbidden();
        await applyInput(session, data, close);
        return { bytesWritten: data.length };
      }
      return fromReply(await remote(sessionId, { kind: 'input', requestId: randomUUID(), replyTo: replicaId, tokenDigest: digest, data, close }));
    },

    async resize({ sessionId, height, width, caller }) {
      const digest = tokenDigest(caller.token);
      const session = sessions.get(sessionId);
      if (session !== undefined) {
        if (session.tokenDigest !== digest) throw forbidden();
        checkTty(session);
        await applyHere(session, () => session.connection.resize({ height, width }));
        return;
      }
      fromReply(await remote(sessionId, { kind: 'resize', requestId: randomUUID(), replyTo: replicaId, tokenDigest: digest, height, width }));
    },

    sessionCount: () => sessions.size,

    drain() {
      draining = true;
    },

    stop() {
      stopping ??= (async () => {
        stopped = true;
        clearInterval(idleSweep);
        const ending = [...sessions.values()];
        for (const session of ending) {
          session.shutDown = true;
          release(session);
        }
        for (const [id, waiter] of pending) {
          clearTimeout(waiter.timer);
          // Not SHUTTING_DOWN: the holder may have applied it, which UPSTREAM_UNAVAILABLE says (mayHaveApplied).
          waiter.resolve({ requestId: id, ok: false, code: ErrorCode.UPSTREAM_UNAVAILABLE, message: 'This gateway replica is shutting down' });
        }
        pending.clear();
        await Promise.all(ending.filter((session) => session.reading).map((session) => session.finished));
        const unsubscribe = await replies?.catch(() => undefined);
        await unsubscribe?.();
      })();
      return stopping;
    },
  };
}
