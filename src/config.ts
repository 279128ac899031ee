import { isSendableToken } from './nomad/token.ts';

/**
 * The gateway's settings, parsed from the environment in one pure function. Nomad's own
 * variable names are used for Nomad's settings.
 */
export interface Config {
  /** `PORT`. @default 4000 */
  port: number;
  /** `HOST`. @default 127.0.0.1 with the embedded simulator, 0.0.0.0 with NOMAD_ADDR */
  host: string;
  /** Undefined: run the embedded simulator (no NOMAD_ADDR). */
  nomad: NomadConfig | undefined;
  /** `NOMAD_TOKEN`: used only for callers that send no token of their own. */
  defaultToken: string | undefined;
  /** `LOG_LEVEL`. @default info */
  logLevel: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
  /** Undefined: replicas share nothing, live views run in-process (no REDIS_URL). */
  redis: RedisConfig | undefined;
  /** Upstream watchers of subscriptions. */
  watch: WatchConfig;
}

export interface WatchConfig {
  /** `WATCH_LEASE_TTL_MS`: a dead replica's watchers are taken over within this. @default 15000 */
  leaseTtlMs: number;
  /** `WATCH_WAIT_MS`: Nomad `wait` of each blocking query; keep it below proxy idle timeouts. @default 55000 */
  waitMs: number;
  /** `WATCH_MAX_SUBSCRIPTIONS`: subscriptions one replica serves at once. @default 10000 */
  maxSubscriptions: number;
}

export interface RedisConfig {
  /** `REDIS_URL`, e.g. redis://redis:6379/0 (rediss:// for TLS). */
  url: string;
  /** `REDIS_PREFIX`: before every key and channel, so gateways can share a Redis. @default nomadgw: */
  prefix: string;
}

export interface NomadConfig {
  /** `NOMAD_ADDR`, e.g. https://nomad.example.com:4646 */
  address: string;
  /** `NOMAD_REGION` */
  region: string | undefined;
  /** `NOMAD_NAMESPACE`: the namespace for calls that name none. */
  namespace: string | undefined;
  /** `NOMAD_CACERT`: path of a PEM CA bundle. */
  caCertPath: string | undefined;
  /** `NOMAD_CLIENT_CERT` / `NOMAD_CLIENT_KEY`: paths of a PEM client certificate and key. */
  clientCertPath: string | undefined;
  clientKeyPath: string | undefined;
  /** `NOMAD_TLS_SERVER_NAME` */
  tlsServerName: string | undefined;
  /** `NOMAD_SKIP_VERIFY` */
  skipVerify: boolean;
  /** `NOMAD_HTTP_TIMEOUT_MS`: per-call timeout for non-blocking calls. @default 10000 */
  timeoutMs: number | undefined;
  /**
   * `NOMAD_HTTP_GZIP`: ask Nomad for gzip bodies. Off by default: the gateway normally runs next
   * to Nomad, where compressing a page costs Nomad's servers and the gateway more than it saves.
   * @default false
   */
  gzip: boolean;
}

export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

function nonEmpty(value: string | undefined): string | undefined {
  const trimmed = value?.trim();
  return trimmed === undefined || trimmed === '' ? undefined : trimmed;
}

function parseBool(name: string, value: string | undefined): boolean {
  const text = nonEmpty(value)?.toLowerCase();
  if (text === undefined || ['0', 'false', 'no'].includes(text)) return false;
  if (['1', 'true', 'yes'].includes(text)) return true;
  throw new ConfigError(`${name} must be true or false, got "${value}"`);
}

function parseInteger(name: string, value: string | undefined, min: number, max: number): number | undefined {
  const text = nonEmpty(value);
  if (text === undefined) return undefined;
  const parsed = Number(text);
  if (!Number.isInteger(parsed) || parsed < min || parsed > max) throw new ConfigError(`${name} must be an integer from ${min} to ${max}, got "${text}"`);
  return parsed;
}

function parseAddress(value: string): string {
  const withScheme = /^[a-z]+:\/\//i.test(value) ? value : `http://${value}`;
  let url: URL;
  try {
    url = new URL(withScheme);
  } catch {
    throw new ConfigError(`NOMAD_ADDR must be a URL such as http://127.0.0.1:4646, got "${value}"`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new ConfigError(`NOMAD_ADDR must be http or https, got "${value}"`);
  return withScheme.replace(/\/+$/, '');
}

/** Parses and checks the environment; throws ConfigError with a message naming the variable. */
export function parseConfig(env: Readonly<Record<string, string | undefined>>): Config {
  const address = nonEmpty(env['NOMAD_ADDR']);
  const logLevelText = nonEmpty(env['LOG_LEVEL']) ?? 'info';
  const logLevel = LOG_LEVELS.find((level) => level === logLevelText);
  if (logLevel === undefined) throw new ConfigError(`LOG_LEVEL must be one of ${LOG_LEVELS.join(', ')}`);
  const nomad: NomadConfig | undefined =
    address === undefined
      ? undefined
      : {
          address: parseAddress(address),
          region: nonEmpty(env['NOMAD_REGION']),
          namespace: nonEmpty(env['NOMAD_NAMESPACE']),
          caCertPath: nonEmpty(env['NOMAD_CACERT']),
          clientCertPath: nonEmpty(env['NOMAD_CLIENT_CERT']),
          clientKeyPath: nonEmpty(env['NOMAD_CLIENT_KEY']),
          tlsServerName: nonEmpty(env['NOMAD_TLS_SERVER_NAME']),
          skipVerify: parseBool('NOMAD_SKIP_VERIFY', env['NOMAD_SKIP_VERIFY']),
          timeoutMs: parseInteger('NOMAD_HTTP_TIMEOUT_MS', env['NOMAD_HTTP_TIMEOUT_MS'], 1, 600_000),
          gzip: parseBool('NOMAD_HTTP_GZIP', env['NOMAD_HTTP_GZIP']),
        };
  if (nomad !== undefined && (nomad.clientCertPath === undefined) !== (nomad.clientKeyPath === undefined)) {
    throw new ConfigError('NOMAD_CLIENT_CERT and NOMAD_CLIENT_KEY go together');
  }
  const defaultToken = nonEmpty(env['NOMAD_TOKEN']);
  // A header can carry visible ASCII only; say so now rather than fail every request later.
  if (defaultToken !== undefined && !isSendableToken(defaultToken)) {
    throw new ConfigError('NOMAD_TOKEN must be printable ASCII without spaces (it travels in the X-Nomad-Token header)');
  }
  const redisUrl = nonEmpty(env['REDIS_URL']);
  if (redisUrl !== undefined && !/^rediss?:\/\//.test(redisUrl)) throw new ConfigError(`REDIS_URL must start with redis:// or rediss://, got "${redisUrl}"`);
  return {
    port: parseInteger('PORT', env['PORT'], 0, 65535) ?? 4000,
    host: nonEmpty(env['HOST']) ?? (nomad === undefined ? '127.0.0.1' : '0.0.0.0'),
    nomad,
    defaultToken,
    logLevel,
    redis: redisUrl === undefined ? undefined : { url: redisUrl, prefix: nonEmpty(env['REDIS_PREFIX']) ?? 'nomadgw:' },
    watch: {
      leaseTtlMs: parseInteger('WATCH_LEASE_TTL_MS', env['WATCH_LEASE_TTL_MS'], 300, 600_000) ?? 15_000,
      waitMs: parseInteger('WATCH_WAIT_MS', env['WATCH_WAIT_MS'], 1_000, 300_000) ?? 55_000,
      maxSubscriptions: parseInteger('WATCH_MAX_SUBSCRIPTIONS', env['WATCH_MAX_SUBSCRIPTIONS'], 1, 10_000_000) ?? 10_000,
    },
  };
}
