/**
 * The seam between exec sessions and Nomad: what the session broker needs of an upstream exec
 * connection, whatever carries it. `nomad-transport.ts` implements it over Nomad's exec WebSocket.
 */

/** What comes out of a running command. */
export type ExecOutputFrame =
  | { kind: 'output'; stream: 'stdout' | 'stderr'; data: Buffer }
  /** The command closed that stream (it may still run). */
  | { kind: 'output-closed'; stream: 'stdout' | 'stderr' };

/** How an exec connection ended. */
export type ExecEnd =
  /** The command exited (Nomad's exit frame): `exitCode` (0 when Nomad omits it), `signal` when killed by one. */
  | { kind: 'exited'; exitCode: number; signal: number | null; oomKilled: boolean }
  /**
   * Nomad closed the session with an error: `code` is the WebSocket close code (1008 policy,
   * 1011 internal), `reason` Nomad's text (e.g. `Permission denied`, `task not found`).
   */
  | { kind: 'refused'; code: number; reason: string }
  /** The connection broke (network, Nomad gone) without an exit frame or an error close. */
  | { kind: 'lost'; reason: string }
  /** Closed from this side (`close()`). */
  | { kind: 'closed' };

/** What to run, where and as whom. */
export interface ExecRequest {
  allocationId: string;
  task: string;
  /** argv: the command and its arguments, e.g. `['/bin/sh', '-c', 'echo hi']`. */
  command: string[];
  tty: boolean;
  /** Initial terminal size (tty only). */
  size?: { height: number; width: number };
  /** Sent in the handshake frame, never in the URL. */
  token: string | undefined;
  /** Nomad routing (`region`); the ACL check uses the allocation's namespace. */
  region?: string;
  /** Aborting it closes the connection (and Nomad ends the command). */
  signal?: AbortSignal;
}

/** One live exec connection to Nomad. */
export interface ExecConnection {
  /**
   * The command's output, in order. Pull-based: while the consumer does not ask for the next
   * frame (and a small buffer is full), the connection stops reading from Nomad, so a slow
   * consumer pauses the command's output instead of growing the gateway's memory. Ends after the
   * last output frame; then `ended` says why.
   */
  output: AsyncIterable<ExecOutputFrame>;
  /** Writes stdin; resolves once the frame is handed to the socket. Rejects after the end. */
  write(data: Buffer): Promise<void>;
  /** Closes the command's stdin (EOF). */
  closeStdin(): Promise<void>;
  /** Resizes the terminal (tty sessions). */
  resize(size: { height: number; width: number }): Promise<void>;
  /** Closes the connection; Nomad stops the command. Idempotent. */
  close(): void;
  /** Settles once the connection is over, with how it ended. Never rejects. */
  ended: Promise<ExecEnd>;
}

export interface ExecTransport {
  /**
   * Opens an exec connection and sends the handshake. Resolves once the WebSocket is open; a
   * refusal (no `alloc-exec`, unknown task...) arrives as `ended` with `refused`. Rejects only when
   * the connection cannot be made at all (refused upgrade, network).
   */
  open(request: ExecRequest): Promise<ExecConnection>;
}
