import type { YogaLogger } from 'graphql-yoga';
import type { Logger } from 'pino';

function describe(value: unknown): string {
  return value instanceof Error ? `${value.name}: ${value.message}` : String(value);
}

/**
 * Yoga's logger on pino. Errors are logged by name and message only: a stack trace or a request
 * object could carry a token.
 */
export function yogaLogger(logger: Logger, prefix = ''): YogaLogger {
  const line = (args: unknown[]): string => `${prefix}${args.map(describe).join(' ')}`;
  return {
    debug: (...args) => logger.debug(line(args)),
    info: (...args) => logger.info(line(args)),
    warn: (...args) => logger.warn(line(args)),
    error: (...args) => logger.error(line(args)),
  };
}
