import type { GraphQLError } from 'graphql';
import { ErrorCode, gatewayError } from '../error-codes.ts';
import type { ExecEnd } from './transport.ts';

/**
 * The coded error for a session Nomad refused or lost, from its close code and text
 * (nomad-api.md §9.6): 1008 carries Nomad's 4xx (the allocation or task cannot run it), 1011 its
 * 500s, where `Permission denied` is a missing `alloc-exec` and `task not found` a typo.
 */
export function execEndError(end: Extract<ExecEnd, { kind: 'refused' | 'lost' }>): GraphQLError {
  if (end.kind === 'lost') {
    return gatewayError(ErrorCode.UPSTREAM_UNAVAILABLE, `The exec connection to Nomad was lost: ${end.reason}`);
  }
  const { code, reason } = end;
  const upstream = { upstreamCloseCode: code };
  if (reason === 'Permission denied') {
    return gatewayError(ErrorCode.FORBIDDEN, 'Nomad refused the exec session: Permission denied (it needs alloc-exec in the allocation\'s namespace)', upstream);
  }
  if (/^Unknown allocation "/.test(reason)) return gatewayError(ErrorCode.NOT_FOUND, reason, upstream);
  if (reason === 'task not found' || reason === 'command is not present' || reason === 'must provide task name' || /^failed to start command: /.test(reason)) {
    return gatewayError(ErrorCode.BAD_USER_INPUT, reason, upstream);
  }
  if (code === 1008) return gatewayError(ErrorCode.FAILED_PRECONDITION, reason === '' ? 'Nomad refused the exec session' : reason, upstream);
  return gatewayError(ErrorCode.UPSTREAM_UNAVAILABLE, `Nomad ended the exec session: ${reason === '' ? `close code ${code}` : reason}`, upstream);
}
