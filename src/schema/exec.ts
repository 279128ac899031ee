// Exec sessions: a command inside an allocation's task, its output streamed over a subscription
// and its stdin fed by mutations that any replica accepts. Thin: src/exec/broker.ts does the work.
import { ErrorCode, gatewayError } from '../error-codes.ts';
import type { ExecSessionEvent } from '../exec/broker.ts';
import { allocationUuidFrom } from './allocation-id.ts';
import { builder } from './builder.ts';
import { toGraphQLError, upstream } from './errors.ts';

/** Most argv entries, and bytes of argv, a command may have. */
const MAX_COMMAND_ARGS = 256;
const MAX_COMMAND_BYTES = 16 * 1024;
/** Terminal sizes Nomad's drivers take: a uint16 each. */
const MAX_TERMINAL_DIMENSION = 65_535;

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** The bytes as text when they are valid UTF-8 on their own, else null. */
function asText(data: Buffer): string | null {
  try {
    return utf8.decode(data);
  } catch {
    return null;
  }
}

type Started = Extract<ExecSessionEvent, { kind: 'started' }>;
type Output = Extract<ExecSessionEvent, { kind: 'output' }>;
type Exited = Extract<ExecSessionEvent, { kind: 'exited' }>;

const ExecStartedRef = builder.objectRef<Started>('ExecStarted').implement({
  description: 'The first event: Nomad accepted the session. Send its input with `execInput`, to any replica.',
  fields: (t) => ({
    sessionId: t.exposeID('sessionId', { description: 'The session\'s id for `execInput` and `execResize`: 128 random bits, usable only with the token that opened it.' }),
  }),
});

const ExecStreamEnum = builder.enumType('ExecStream', {
  description: 'Which output stream bytes came on.',
  values: {
    STDOUT: { value: 'stdout', description: 'Standard output (all output, with a TTY).' },
    STDERR: { value: 'stderr', description: 'Standard error (never used with a TTY).' },
  } as const,
});

const ExecOutputRef = builder.objectRef<Output>('ExecOutput').implement({
  description: 'Bytes the command wrote, in order.',
  fields: (t) => ({
    stream: t.field({ type: ExecStreamEnum, description: 'The stream they came on.', resolve: (e) => e.stream }),
    data: t.string({ description: 'The bytes, base64-encoded (standard alphabet).', resolve: (e) => e.data.toString('base64') }),
    text: t.string({
      nullable: true,
      description: 'The same bytes as text when they are valid UTF-8 on their own; null otherwise (a multi-byte character may be split across two events: use `data` for a terminal).',
      resolve: (e) => asText(e.data),
    }),
  }),
});

const ExecExitedRef = builder.objectRef<Exited>('ExecExited').implement({
  description: 'The last event: the command exited. The subscription completes after it.',
  fields: (t) => ({
    exitCode: t.exposeInt('exitCode', { description: 'The exit code; 128 + N for a process killed by signal N.' }),
    signal: t.int({ nullable: true, description: 'The signal that killed the command, when Nomad\'s driver reports one; null otherwise.', resolve: (e) => e.signal }),
    oomKilled: t.exposeBoolean('oomKilled', { description: 'Whether the command was killed for running out of memory, as far as the driver knows.' }),
  }),
});

const ExecEventUnion = builder.unionType('ExecEvent', {
  description: 'One event of an exec session: `ExecStarted` first, then `ExecOutput`s, then `ExecExited`.',
  types: [ExecStartedRef, ExecOutputRef, ExecExitedRef],
  resolveType: (event) => (event.kind === 'started' ? ExecStartedRef : event.kind === 'output' ? ExecOutputRef : ExecExitedRef),
});

const ExecAllocationInput = builder.inputType('ExecAllocationInput', {
  description: 'What to run, and where.',
  fields: (t) => ({
    allocationId: t.id({ required: true, description: 'The allocation\'s global `id` or its full UUID (`allocId`).' }),
    task: t.string({ required: true, description: 'The task to run the command in; it must be running.' }),
    command: t.stringList({ required: true, description: 'The command and its arguments, e.g. `["/bin/sh"]` or `["ls", "-l", "/alloc"]`.' }),
    tty: t.boolean({ defaultValue: false, description: 'Allocate a terminal: output comes on STDOUT only, and `execResize` applies.' }),
    height: t.int({ description: 'Initial terminal rows (with `tty`).' }),
    width: t.int({ description: 'Initial terminal columns (with `tty`).' }),
  }),
});

const ExecInputInput = builder.inputType('ExecInputInput', {
  description: 'Input for a running exec session: bytes as `data` (base64) or as `text`, at most 64 KiB, and/or the end of input.',
  fields: (t) => ({
    sessionId: t.id({ required: true, description: 'From `ExecStarted`.' }),
    data: t.string({ description: 'Bytes to write to stdin, base64-encoded. Not with `text`.' }),
    text: t.string({ description: 'Text to write to stdin as UTF-8. Not with `data`.' }),
    close: t.boolean({ defaultValue: false, description: 'Close stdin after writing (end of input).' }),
  }),
});

const ExecInputPayload = builder.objectRef<{ sessionId: string; bytesWritten: number }>('ExecInputPayload').implement({
  description: 'Answered once the bytes were written to the command\'s stdin.',
  fields: (t) => ({
    sessionId: t.exposeID('sessionId', { description: 'The session written to.' }),
    bytesWritten: t.exposeInt('bytesWritten', { description: 'Bytes written to stdin.' }),
  }),
});

const ExecResizeInput = builder.inputType('ExecResizeInput', {
  description: 'A new terminal size for a session started with `tty`.',
  fields: (t) => ({
    sessionId: t.id({ required: true, description: 'From `ExecStarted`.' }),
    height: t.int({ required: true, description: 'Rows.' }),
    width: t.int({ required: true, description: 'Columns.' }),
  }),
});

const ExecResizePayload = builder.objectRef<{ sessionId: string }>('ExecResizePayload').implement({
  description: 'Answered once the new size was sent to Nomad.',
  fields: (t) => ({ sessionId: t.exposeID('sessionId', { description: 'The session resized.' }) }),
});

function dimension(name: string, value: number | null | undefined): number | undefined {
  if (value == null) return undefined;
  if (value < 1 || value > MAX_TERMINAL_DIMENSION) throw gatewayError(ErrorCode.BAD_USER_INPUT, `\`${name}\` must be from 1 to ${MAX_TERMINAL_DIMENSION}`, { field: name });
  return value;
}

function checkCommand(command: readonly string[]): string[] {
  if (command.length === 0 || command[0] === '') throw gatewayError(ErrorCode.BAD_USER_INPUT, '`command` needs at least the program to run', { field: 'command' });
  const bytes = command.reduce((sum, arg) => sum + Buffer.byteLength(arg, 'utf8'), 0);
  if (command.length > MAX_COMMAND_ARGS || bytes > MAX_COMMAND_BYTES) {
    throw gatewayError(ErrorCode.BAD_USER_INPUT, `\`command\` may have at most ${MAX_COMMAND_ARGS} arguments and ${MAX_COMMAND_BYTES} bytes`, { field: 'command' });
  }
  return [...command];
}

const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

function inputBytes(data: string | null | undefined, text: string | null | undefined): Buffer {
  if (data != null && text != null) throw gatewayError(ErrorCode.BAD_USER_INPUT, 'Give `data` or `text`, not both', { field: 'data' });
  if (data != null) {
    if (data.length % 4 !== 0 || !BASE64.test(data)) throw gatewayError(ErrorCode.BAD_USER_INPUT, '`data` must be standard base64', { field: 'data' });
    return Buffer.from(data, 'base64');
  }
  return Buffer.from(text ?? '', 'utf8');
}

builder.subscriptionFields((t) => ({
  execAllocation: t.field({
    type: ExecEventUnion,
    description:
      'Runs a command in an allocation\'s task (Nomad\'s exec, which needs `alloc-exec`): `ExecStarted`, then the output as it comes, then `ExecExited`. Leaving the subscription ends the command. Refusals (unknown allocation or task, a terminal allocation, no `alloc-exec`) are errors before `ExecStarted`.',
    args: { input: t.arg({ type: ExecAllocationInput, required: true, description: 'What to run, and where.' }) },
    subscribe: async (_root, { input }, ctx) => {
      const allocationId = allocationUuidFrom(input.allocationId);
      if (allocationId === undefined) {
        throw gatewayError(ErrorCode.BAD_USER_INPUT, `Invalid allocation id "${String(input.allocationId)}": give the allocation's global \`id\` or its full UUID`, {
          field: 'allocationId',
        });
      }
      if (input.task.trim() === '') throw gatewayError(ErrorCode.BAD_USER_INPUT, '`task` cannot be empty', { field: 'task' });
      const height = dimension('height', input.height);
      const width = dimension('width', input.width);
      if ((height === undefined) !== (width === undefined)) throw gatewayError(ErrorCode.BAD_USER_INPUT, 'Give `height` and `width` together', { field: 'height' });
      return upstream(
        ctx.exec.start({
          allocationId,
          task: input.task,
          command: checkCommand(input.command),
          tty: input.tty ?? false,
          size: height === undefined || width === undefined ? undefined : { height, width },
          caller: { token: ctx.token, signal: ctx.signal },
        }),
      );
    },
    resolve: (event) => {
      if (event.kind === 'failed') throw toGraphQLError(event.error);
      return event;
    },
  }),
}));

builder.mutationFields((t) => ({
  execInput: t.field({
    type: ExecInputPayload,
    description:
      'Writes to a running exec session\'s stdin, whichever replica holds it, and answers once the bytes are written; inputs of one session are applied in the order they are accepted. Only the token that opened the session may write to it.',
    args: { input: t.arg({ type: ExecInputInput, required: true, description: 'The session and what to write.' }) },
    resolve: async (_root, { input }, ctx) => {
      const data = inputBytes(input.data, input.text);
      const sessionId = String(input.sessionId);
      const { bytesWritten } = await ctx.exec.input({ sessionId, data, close: input.close ?? false, caller: { token: ctx.token, signal: undefined } });
      return { sessionId, bytesWritten };
    },
  }),
  execResize: t.field({
    type: ExecResizePayload,
    description: 'Resizes the terminal of a running exec session started with `tty`.',
    args: { input: t.arg({ type: ExecResizeInput, required: true, description: 'The session and its new size.' }) },
    resolve: async (_root, { input }, ctx) => {
      const height = dimension('height', input.height) ?? 0;
      const width = dimension('width', input.width) ?? 0;
      const sessionId = String(input.sessionId);
      await ctx.exec.resize({ sessionId, height, width, caller: { token: ctx.token, signal: undefined } });
      return { sessionId };
    },
  }),
}));
