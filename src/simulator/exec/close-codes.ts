/**
 * How an exec session fails (Nomad API notes §9.5–9.6): the error catalogue, with the status
 * Nomad codes each error with, the checks that raise them before a command starts, and the
 * WebSocket close frame a status turns into.
 */
import type { Allocation } from '../../nomad/types.ts';
import { INVALID_TOKEN } from '../acl.ts';
import { isClientTerminal } from '../client-status.ts';
import { HttpError } from '../http-kit.ts';
import { lookupAllocation, type Simulation } from '../routes/context.ts';

/** The WebSocket close codes the exec endpoint sends (gorilla's names). */
export const ExecCloseCode = {
  /** Any coded error other than 500 (400, 403, 404): Nomad's `toWsCode` default. */
  PolicyViolation: 1008,
  /** A 500, or an error without a code. */
  InternalServerErr: 1011,
} as const;
export type ExecCloseCode = (typeof ExecCloseCode)[keyof typeof ExecCloseCode];

/**
 * Gorilla refuses control frames whose payload exceeds 125 bytes (2 of them the code), so a
 * longer reason means no close frame at all: the TCP connection is simply closed.
 */
export const MAX_CLOSE_REASON_BYTES = 123;

/** An exec failure: the text Nomad sends and the code it carries (undefined: no code, i.e. 500). */
export class ExecError extends Error {
  constructor(
    readonly status: number | undefined,
    message: string,
  ) {
    super(message);
    this.name = 'ExecError';
  }
}

/** The catalogue of exec errors, each with Nomad's code and exact text. */
export const ExecErrors = {
  /** Invalid token, or no `alloc-exec` (or `alloc-node-exec` for raw_exec). */
  permissionDenied: () => new ExecError(undefined, 'Permission denied'),
  missingAllocId: () => new ExecError(400, 'missing AllocID'),
  unknownAllocation: (id: string) => new ExecError(404, `Unknown allocation "${id}"`),
  terminalAllocation: (id: string, status: string) =>
    new ExecError(400, `exec not possible, client status of allocation ${id} is ${status}`),
  noPathToNode: () => new ExecError(404, 'No path to node'),
  taskNameMissing: () => new ExecError(400, 'must provide task name'),
  commandNotPresent: () => new ExecError(400, 'command is not present'),
  /** The driver-capabilities lookup fails before the task-state one. */
  taskNotFound: () => new ExecError(500, 'task not found'),
  taskNotStarted: (task: string) => new ExecError(404, `task "${task}" not started yet.`),
  taskNotRunning: (task: string) => new ExecError(404, `task "${task}" is not running.`),
  /** The command cannot start: what Go's `exec.Cmd.Start` says, e.g. `exec: "x": executable file not found in $PATH`. */
  startFailed: (error: unknown, file: string) => new ExecError(500, `failed to start command: ${startErrorText(error, file)}`),
  badCommand: (cause: string) => new ExecError(undefined, `failed to marshal command into json: ${cause}`),
  badTty: (cause: string) => new ExecError(undefined, `tty value is not a boolean: ${cause}`),
  /** Handshake failures are all closed with 1008 (`toWsCode(400)`). */
  badHandshakeFlag: (cause: string) => new ExecError(400, `ws_handshake value is not a boolean: ${cause}`),
  handshake: (text: string) => new ExecError(400, text),
  handshakeVersion: (version: number) => new ExecError(400, `unexpected handshake value: ${version}`),
  handshakeTokenMismatch: () => new ExecError(400, 'handshake auth token mismatched auth header token'),
  /** A client frame that is not JSON, or does not fit the frame struct. */
  badFrame: (text: string) => new ExecError(500, text),
  /** A client frame carrying `setup`. */
  unexpectedMessageType: () => new ExecError(500, 'unexpected message type'),
} as const;

/** What Go's `exec.Cmd.Start` reports for a spawn error (a bare name is looked up in PATH first). */
function startErrorText(error: unknown, file: string): string {
  const code = error instanceof Error && 'code' in error ? error.code : undefined;
  if (file === '') return 'exec: no command';
  if (!file.includes('/') && (code === 'ENOENT' || code === 'EACCES')) return `exec: "${file}": executable file not found in $PATH`;
  if (code === 'ENOENT') return `fork/exec ${file}: no such file or directory`;
  if (code === 'EACCES') return `fork/exec ${file}: permission denied`;
  return `fork/exec ${file}: ${error instanceof Error ? error.message : String(error)}`;
}

/** Where a command runs: the allocation and the task (which exists, has started and runs). */
export interface ExecTarget {
  alloc: Allocation;
  task: string;
}

/**
 * The checks Nomad's server and client make before a command runs, in their order (§9.6):
 * throws the catalogue's ExecError for the first that fails.
 */
export function resolveExecTarget(
  sim: Simulation,
  request: { allocId: string; task: string; command: readonly string[]; token: string | undefined },
): ExecTarget {
  if (request.allocId === '') throw ExecErrors.missingAllocId();
  let alloc: Allocation | undefined;
  try {
    alloc = lookupAllocation(sim, request.allocId);
  } catch (error) {
    throw error instanceof HttpError ? new ExecError(error.status, error.message) : error;
  }
  if (alloc === undefined) throw ExecErrors.unknownAllocation(request.allocId);
  // The lookup comes first: an unknown allocation is reported even to a bad token.
  const authority = sim.acl.resolve(request.token);
  if (authority === INVALID_TOKEN || !authority.can(alloc.Namespace, 'alloc-exec')) throw ExecErrors.permissionDenied();
  if (isClientTerminal(alloc.ClientStatus)) throw ExecErrors.terminalAllocation(alloc.ID, alloc.ClientStatus);
  const node = sim.store.nodes.get(alloc.NodeID);
  if (node === undefined || node.Status === 'down' || node.Status === 'disconnected') throw ExecErrors.noPathToNode();
  if (request.task === '') throw ExecErrors.taskNameMissing();
  if (request.command.length === 0) throw ExecErrors.commandNotPresent();
  const group = alloc.Job?.TaskGroups?.find((g) => g.Name === alloc.TaskGroup);
  const definition = group?.Tasks?.find((t) => t.Name === request.task);
  if (definition === undefined) throw ExecErrors.taskNotFound();
  // raw_exec has no filesystem isolation, so the client also wants alloc-node-exec.
  if (definition.Driver === 'raw_exec' && !authority.can(alloc.Namespace, 'alloc-node-exec')) throw ExecErrors.permissionDenied();
  const state = alloc.TaskStates?.[request.task];
  const started = state !== undefined && (state.State !== 'pending' || state.Events?.some((e) => e.Type === 'Started') === true);
  if (!started) throw ExecErrors.taskNotStarted(request.task);
  if (state?.State !== 'running') throw ExecErrors.taskNotRunning(request.task);
  return { alloc, task: request.task };
}

/** Nomad's `toWsCode`: 500 (and code-less errors) → 1011, any other code → 1008. */
export function closeCodeFor(status: number | undefined): ExecCloseCode {
  return status === undefined || status === 500 ? ExecCloseCode.InternalServerErr : ExecCloseCode.PolicyViolation;
}

/** The close frame an error ends the session with, or `undefined` when the reason is too long to send one. */
export function closeFrameFor(error: ExecError): { code: ExecCloseCode; reason: string } | undefined {
  if (Buffer.byteLength(error.message) > MAX_CLOSE_REASON_BYTES) return undefined;
  return { code: closeCodeFor(error.status), reason: error.message };
}
