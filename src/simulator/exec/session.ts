import { spawn, type ChildProcess } from 'node:child_process';
import { mkdir } from 'node:fs/promises';
import type { IncomingMessage } from 'node:http';
import { constants as osConstants } from 'node:os';
import { join } from 'node:path';
import type { Duplex, Readable } from 'node:stream';
import type { RawData, WebSocket as ExecSocket } from 'ws';
import { tokenFromHeaders } from '../acl.ts';
import type { Simulation } from '../routes/context.ts';
import { closeFrameFor, ExecError, ExecErrors, resolveExecTarget, type ExecTarget } from './close-codes.ts';
import * as frames from './frames.ts';

/** Output is paused above this many bytes queued on the socket, and resumed below the low mark. */
const HIGH_WATER_BYTES = 1024 * 1024;
const LOW_WATER_BYTES = 256 * 1024;
/** After the last frame, a peer that never closes its side is cut off after this long. */
const LINGER_MS = 5_000;

export interface ExecSessionOptions {
  socket: ExecSocket;
  /** The upgraded TCP connection: a normal exit closes it without a close frame, as Nomad does. */
  connection: Duplex;
  request: IncomingMessage;
  /** The id in the exec path, as the client spelled it. */
  allocId: string;
  sim: Simulation;
  /** Commands run in `<workRoot>/<allocId>/<task>`, created on demand. */
  workRoot: string;
  /** The `PATH` commands get. */
  hostPath: string;
  /** Between SIGTERM and SIGKILL when a command has to be stopped. */
  killGraceMs: number;
}

/** One exec WebSocket: handshake, checks, then a real child process wired to the frames. */
export interface ExecSession {
  /** Settles once the socket is closed and the command, if it started, has exited. */
  readonly done: Promise<void>;
  /** Ends the session now: drops the connection and stops the command. */
  stop(): void;
}

/** A path segment that stays inside its parent whatever the name. */
function pathSegment(name: string): string {
  const encoded = encodeURIComponent(name);
  return encoded.startsWith('.') ? `%2E${encoded.slice(1)}` : encoded;
}

const toBuffer = (data: RawData): Buffer => (Buffer.isBuffer(data) ? data : Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data));

class Session implements ExecSession {
  readonly done: Promise<void>;
  readonly #options: ExecSessionOptions;
  #phase: 'opening' | 'running' | 'ended' = 'opening';
  /** Frames received before the command runs (after the handshake). */
  readonly #early: Buffer[] = [];
  #nextFrame: ((frame: Buffer | undefined) => void) | undefined;
  #child: ChildProcess | undefined;
  #childClosed: Promise<void> = Promise.resolve();
  #childDone = false;
  #killTimer: NodeJS.Timeout | undefined;
  #lingerTimer: NodeJS.Timeout | undefined;
  #outputPaused = false;
  #stdinBlocked = false;

  constructor(options: ExecSessionOptions) {
    this.#options = options;
    const { socket } = options;
    socket.on('message', (data) => this.#onMessage(toBuffer(data)));
    // `ws` reports protocol errors and then closes; the close handler does the cleanup.
    socket.on('error', () => undefined);
    const socketClosed = new Promise<void>((resolve) => socket.once('close', resolve)).then(() => this.#onClientGone());
    this.done = this.#run()
      .catch((error: unknown) => this.#fail(error instanceof ExecError ? error : new ExecError(undefined, String(error))))
      .then(() => socketClosed)
      .then(() => this.#childClosed);
  }

  stop(): void {
    this.#phase = 'ended';
    this.#options.socket.terminate();
  }

  async #run(): Promise<void> {
    const { request, sim, allocId } = this.#options;
    const params = new URL(request.url ?? '/', 'http://simulator').searchParams;
    const token = await this.#authenticate(params);
    if (token === false) return;
    const command = frames.decodeCommand(params.get('command') ?? '');
    if (!command.ok) throw ExecErrors.badCommand(command.error);
    const ttyText = params.get('tty') ?? '';
    const tty = ttyText === '' ? { ok: true as const, value: false } : frames.decodeGoBool(ttyText);
    if (!tty.ok) throw ExecErrors.badTty(tty.error);
    const target = resolveExecTarget(sim, { allocId, task: params.get('task') ?? '', command: command.value, token });
    const cwd = join(this.#options.workRoot, pathSegment(target.alloc.ID), pathSegment(target.task));
    await mkdir(cwd, { recursive: true });
    if (this.#phase === 'opening') await this.#start(target, { command: command.value, tty: tty.value, cwd });
  }

  /** The token to use: the header's, or the handshake's when `ws_handshake` asks for one; false if the client left. */
  async #authenticate(params: URLSearchParams): Promise<string | undefined | false> {
    const header = tokenFromHeaders(this.#options.request.headers);
    const flag = params.get('ws_handshake') ?? '';
    if (flag === '') return header;
    const wanted = frames.decodeGoBool(flag);
    if (!wanted.ok) throw ExecErrors.badHandshakeFlag(wanted.error);
    if (!wanted.value) return header;
    const frame = this.#early.shift() ?? (await new Promise<Buffer | undefined>((resolve) => (this.#nextFrame = resolve)));
    if (frame === undefined) return false;
    const handshake = frames.decodeHandshake(frame);
    if (!handshake.ok) throw ExecErrors.handshake(handshake.error);
    if (header !== undefined && header !== handshake.value.authToken) throw ExecErrors.handshakeTokenMismatch();
    if (handshake.value.version !== 1) throw ExecErrors.handshakeVersion(handshake.value.version);
    return handshake.value.authToken;
  }

  async #start(target: ExecTarget, run: { command: string[]; tty: boolean; cwd: string }): Promise<void> {
    const [file = '', ...args] = run.command;
    if (file === '') throw ExecErrors.startFailed(undefined, '');
    const child = this.#spawn(target, run, file, args);
    const failure = await new Promise<unknown>((resolve) => {
      child.once('spawn', () => resolve(undefined));
      child.once('error', resolve);
    });
    if (failure !== undefined) throw ExecErrors.startFailed(failure, file);
    child.on('error', () => undefined);
    child.stdin?.on('error', () => undefined);
    this.#child = child;
    this.#childClosed = new Promise((resolve) =>
      child.once('close', (code, signal) => {
        this.#childDone = true;
        clearTimeout(this.#killTimer);
        this.#onExit(code, signal);
        resolve();
      }),
    );
    if (this.#phase !== 'opening') {
      this.#kill();
      return;
    }
    this.#phase = 'running';
    this.#pipeOutput(child, run.tty);
    for (const frame of this.#early.splice(0)) this.#onFrame(frame);
  }

  #spawn(target: ExecTarget, run: { tty: boolean; cwd: string }, file: string, args: string[]): ChildProcess {
    const { alloc, task } = target;
    const env: Record<string, string> = {
      PATH: this.#options.hostPath,
      NOMAD_ALLOC_ID: alloc.ID,
      NOMAD_TASK_NAME: task,
      NOMAD_JOB_NAME: alloc.Job?.Name ?? alloc.JobID,
      NOMAD_NAMESPACE: alloc.Namespace,
    };
    if (run.tty) {
      env['TERM'] = 'xterm-256color';
      // No pty here: the last tty_size sent before the start is all a command can learn.
      const size = this.#early
        .map((frame) => frames.decodeClientFrame(frame))
        .reduce<frames.ClientFrame['ttySize']>((last, decoded) => (decoded.ok ? (decoded.value.ttySize ?? last) : last), undefined);
      if (size !== undefined && size.width > 0) env['COLUMNS'] = String(size.width);
      if (size !== undefined && size.height > 0) env['LINES'] = String(size.height);
    }
    try {
      // Its own process group, so stopping it also stops whatever it started.
      return spawn(file, args, { cwd: run.cwd, env, stdio: 'pipe', detached: true });
    } catch (error) {
      throw ExecErrors.startFailed(error, file);
    }
  }

  #pipeOutput(child: ChildProcess, tty: boolean): void {
    const streams: [Readable | null, frames.OutputStream][] = [
      [child.stdout, 'stdout'],
      [child.stderr, tty ? 'stdout' : 'stderr'],
    ];
    let open = streams.length;
    for (const [readable, name] of streams) {
      readable?.on('data', (chunk: Buffer) => {
        for (const frame of frames.encodeOutput(name, chunk)) this.#send(frame);
      });
      readable?.once('end', () => {
        open -= 1;
        // With tty, stderr goes out as stdout, so there is one stream to close.
        if (!tty || open === 0) this.#send(frames.encodeStreamClose(name));
      });
    }
  }

  /** Sends an output frame, pausing the command's output while the socket is backed up. */
  #send(frame: string): void {
    const { socket } = this.#options;
    if (this.#phase !== 'running') return;
    socket.send(frame, () => {
      if (this.#outputPaused && socket.bufferedAmount <= LOW_WATER_BYTES) this.#setOutputPaused(false);
    });
    if (!this.#outputPaused && socket.bufferedAmount > HIGH_WATER_BYTES) this.#setOutputPaused(true);
  }

  #setOutputPaused(paused: boolean): void {
    this.#outputPaused = paused;
    for (const readable of [this.#child?.stdout, this.#child?.stderr]) {
      if (paused) readable?.pause();
      else readable?.resume();
    }
  }

  #onMessage(frame: Buffer): void {
    if (this.#nextFrame !== undefined) {
      const deliver = this.#nextFrame;
      this.#nextFrame = undefined;
      deliver(frame);
    } else if (this.#phase === 'opening') this.#early.push(frame);
    else if (this.#phase === 'running') this.#onFrame(frame);
  }

  #onFrame(raw: Buffer): void {
    const decoded = frames.decodeClientFrame(raw);
    if (!decoded.ok) return this.#fail(ExecErrors.badFrame(decoded.error));
    if (decoded.value.setup) return this.#fail(ExecErrors.unexpectedMessageType());
    // tty_size: there is no pty to resize, so a running command never sees it; heartbeats need nothing.
    const stdin = this.#child?.stdin;
    if (decoded.value.stdin === undefined || stdin == null || stdin.writableEnded || stdin.destroyed) return;
    if (decoded.value.stdin.data.length > 0 && !stdin.write(decoded.value.stdin.data) && !this.#stdinBlocked) {
      // The command reads slower than the client writes: stop reading the socket until it catches up
      // (or its stdin goes away, which ends the wait just the same).
      this.#stdinBlocked = true;
      this.#options.socket.pause();
      const unblock = (): void => {
        stdin.off('drain', unblock);
        stdin.off('close', unblock);
        this.#stdinBlocked = false;
        this.#options.socket.resume();
      };
      stdin.on('drain', unblock);
      stdin.on('close', unblock);
    }
    if (decoded.value.stdin.close) stdin.end();
  }

  #onExit(code: number | null, signal: NodeJS.Signals | null): void {
    if (this.#phase !== 'running') return;
    this.#phase = 'ended';
    const exitCode = code ?? 128 + (signal === null ? 0 : osConstants.signals[signal]);
    // Like Nomad: the exit frame, then the connection closes with no close frame (clients see 1006).
    this.#options.socket.send(frames.encodeExit(exitCode), () => this.#dropConnection());
  }

  #onClientGone(): void {
    clearTimeout(this.#lingerTimer);
    this.#phase = 'ended';
    this.#nextFrame?.(undefined);
    this.#nextFrame = undefined;
    this.#kill();
  }

  #fail(error: ExecError): void {
    if (this.#phase === 'ended') return;
    this.#phase = 'ended';
    this.#kill();
    const frame = closeFrameFor(error);
    if (frame === undefined) this.#dropConnection();
    else this.#options.socket.close(frame.code, frame.reason);
  }

  #dropConnection(): void {
    const { connection } = this.#options;
    if (connection.destroyed) return;
    connection.end();
    this.#lingerTimer ??= setTimeout(() => connection.destroy(), LINGER_MS);
  }

  /** SIGTERM to the command's process group, SIGKILL after the grace period if it is still there. */
  #kill(): void {
    const child = this.#child;
    // Once it has closed, its pid (and group id) may belong to someone else.
    if (child?.pid === undefined || this.#childDone || this.#killTimer !== undefined) return;
    const pid = child.pid;
    const signalGroup = (signal: NodeJS.Signals): void => {
      try {
        process.kill(-pid, signal);
      } catch {
        // ESRCH: the group is already gone.
      }
    };
    signalGroup('SIGTERM');
    this.#killTimer = setTimeout(() => {
      signalGroup('SIGKILL');
      // Something that left the group may still hold the pipes: stop reading so the child can close.
      child.stdout?.destroy();
      child.stderr?.destroy();
    }, this.#options.killGraceMs);
  }
}

/** Starts the session for a freshly upgraded exec socket. */
export function startExecSession(options: ExecSessionOptions): ExecSession {
  return new Session(options);
}
