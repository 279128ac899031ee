import { z } from 'zod';
import { isSendableToken } from './nomad/token.ts';
import { DEFAULT_SECURITY, type SecurityOptions } from './server/security.ts';

/**
 * The gateway's settings, from environment variables and command-line flags (a flag wins), parsed
 * and checked in one pure function against one table of settings (`SETTINGS`), which also writes
 * `--help`. Nomad's own variable names are used for Nomad's settings.
 */
export interface Config {
  /** `PORT`. @default 4000 */
  port: number;
  /** `HOST`. @default 127.0.0.1 with the embedded simulator, 0.0.0.0 with NOMAD_ADDR */
  host: string;
  /**
   * `SHUTDOWN_TIMEOUT_MS`: on SIGTERM, how long the replica lets in-flight work finish before it
   * exits anyway, closing what remains (`server/shutdown.ts`). @default 10000
   */
  shutdownTimeoutMs: number;
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
  /** What the deployment locks down. */
  security: SecurityOptions;
  /** `TRUSTED_DOCUMENTS`: the manifest's path, read at start. */
  trustedDocumentsPath: string | undefined;
  /** Undefined: no traces (neither OTLP endpoint variable set). */
  tracing: TracingConfig | undefined;
  /**
   * `GRAPHQL_FAST_PATH`: plain JSON queries and mutations skip yoga's request pipeline, recurring
   * queries run compiled by graphql-jit, and a subscription event is executed once for all the
   * subscribers that would get the same answer. False: yoga's pipeline and executor for everything
   * (the reference engine, if ever in doubt). @default true
   */
  fastPath: boolean;
}

export interface TracingConfig {
  /**
   * Where spans are sent over OTLP/HTTP: `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`, else
   * `OTEL_EXPORTER_OTLP_ENDPOINT` followed by `/v1/traces`.
   */
  tracesUrl: string;
  /** `OTEL_SERVICE_NAME`. @default nomad-graphql-gateway */
  serviceName: string;
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

/** A value's check: zod, with the sentence a person reads after the variable's name. */
type Check<T> = z.ZodType<T, string>;

function integer(min: number, max: number): Check<number> {
  return z
    .string()
    .regex(/^-?\d+$/, { error: `must be an integer from ${min} to ${max}` })
    .transform(Number)
    .pipe(z.number().int().min(min, { error: `must be an integer from ${min} to ${max}` }).max(max, { error: `must be an integer from ${min} to ${max}` }));
}

const boolean: Check<boolean> = z
  .string()
  .transform((text) => text.toLowerCase())
  .pipe(z.enum(['1', 'true', 'yes', '0', 'false', 'no'], { error: 'must be true or false' }))
  .transform((text) => ['1', 'true', 'yes'].includes(text));

const text = z.string();

const httpUrl: Check<string> = text.refine((v) => URL.canParse(v) && ['http:', 'https:'].includes(new URL(v).protocol), {
  error: 'must be an http:// or https:// URL',
});

function nomadAddress(value: string): string {
  const withScheme = /^[a-z]+:\/\//i.test(value) ? value : `http://${value}`;
  const url = URL.canParse(withScheme) ? new URL(withScheme) : undefined;
  if (url === undefined) throw new Error('must be a URL such as http://127.0.0.1:4646');
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new Error('must be http or https');
  return withScheme.replace(/\/+$/, '');
}

/** One setting: its variable, its flag, what it means, its default as shown, and its check. */
interface Setting<T> {
  env: string;
  flag: string;
  summary: string;
  shownDefault: string;
  check: Check<T>;
}

function setting<T>(env: string, summary: string, shownDefault: string, check: Check<T>): Setting<T> {
  return { env, flag: `--${env.toLowerCase().replaceAll('_', '-')}`, summary, shownDefault, check };
}

/** Every setting the gateway reads, in the order `--help` and the README list them. */
export const SETTINGS = {
  NOMAD_ADDR: setting('NOMAD_ADDR', 'The Nomad HTTP API; `host:port` gets http://. Unset: the embedded simulator.', 'unset', text.transform((v, ctx) => {
    try {
      return nomadAddress(v);
    } catch (error) {
      ctx.addIssue({ code: 'custom', message: error instanceof Error ? error.message : String(error) });
      return z.NEVER;
    }
  })),
  NOMAD_TOKEN: setting('NOMAD_TOKEN', 'Token for callers that send none (see Authentication).', 'unset', text.refine(isSendableToken, { error: 'must be printable ASCII without spaces (it travels in the X-Nomad-Token header)' })),
  NOMAD_REGION: setting('NOMAD_REGION', 'Region of upstream calls.', "Nomad's", text),
  NOMAD_NAMESPACE: setting('NOMAD_NAMESPACE', 'Namespace of calls that name none.', "Nomad's (default)", text),
  NOMAD_CACERT: setting('NOMAD_CACERT', 'PEM file of the CA to trust for https:// Nomad.', 'system CAs', text),
  NOMAD_CLIENT_CERT: setting('NOMAD_CLIENT_CERT', 'PEM client certificate for mutual TLS (with NOMAD_CLIENT_KEY).', 'unset', text),
  NOMAD_CLIENT_KEY: setting('NOMAD_CLIENT_KEY', 'PEM key of NOMAD_CLIENT_CERT.', 'unset', text),
  NOMAD_TLS_SERVER_NAME: setting('NOMAD_TLS_SERVER_NAME', 'Server name to expect in Nomad\'s certificate (SNI).', "the address's host", text),
  NOMAD_SKIP_VERIFY: setting('NOMAD_SKIP_VERIFY', 'Do not verify Nomad\'s certificate (testing only).', 'false', boolean),
  NOMAD_HTTP_TIMEOUT_MS: setting('NOMAD_HTTP_TIMEOUT_MS', 'Timeout of each upstream call, in ms (blocking queries add their wait).', '10000', integer(1, 600_000)),
  NOMAD_HTTP_GZIP: setting('NOMAD_HTTP_GZIP', 'Ask Nomad for gzip bodies: worth it over a slow link only.', 'false', boolean),
  PORT: setting('PORT', 'Port to listen on (0: any free one).', '4000', integer(0, 65_535)),
  HOST: setting('HOST', 'Interface to listen on.', '127.0.0.1 with the simulator, 0.0.0.0 with NOMAD_ADDR', text),
  SHUTDOWN_TIMEOUT_MS: setting('SHUTDOWN_TIMEOUT_MS', 'On SIGTERM, how long in-flight work may take, in ms, before the process exits anyway.', '10000', integer(100, 600_000)),
  LOG_LEVEL: setting('LOG_LEVEL', `pino level: ${LOG_LEVELS.join(', ')}. Tokens are never logged.`, 'info', z.enum(LOG_LEVELS, { error: `must be one of ${LOG_LEVELS.join(', ')}` })),
  REDIS_URL: setting('REDIS_URL', 'Redis shared by the replicas (redis:// or rediss://). Unset: everything stays in this process.', 'unset', text.regex(/^rediss?:\/\//, { error: 'must start with redis:// or rediss://' })),
  REDIS_PREFIX: setting('REDIS_PREFIX', 'Prefix of every Redis key and channel, so gateways can share a Redis.', 'nomadgw:', text),
  WATCH_LEASE_TTL_MS: setting('WATCH_LEASE_TTL_MS', 'A watch lease\'s lifetime: a dead replica\'s watchers move within it.', '15000', integer(300, 600_000)),
  WATCH_WAIT_MS: setting('WATCH_WAIT_MS', 'Nomad `wait` of each blocking query; keep it below your proxies\' idle timeout.', '55000', integer(1_000, 300_000)),
  WATCH_MAX_SUBSCRIPTIONS: setting('WATCH_MAX_SUBSCRIPTIONS', 'Subscriptions one replica serves at once.', '10000', integer(1, 10_000_000)),
  GRAPHIQL: setting('GRAPHIQL', 'Serve GraphiQL at /graphql and the terminal page at /exec.', 'true', boolean),
  INTROSPECTION: setting('INTROSPECTION', 'Answer schema introspection (__schema, __type).', 'true', boolean),
  CORS_ORIGINS: setting('CORS_ORIGINS', 'Comma-separated origins browsers may call from (no credentials either way).', 'any origin', text.transform((v) => v.split(',').map((o) => o.trim()).filter((o) => o !== '')).pipe(z.array(z.string().regex(/^https?:\/\/[^/\s]+$/, { error: 'must list origins such as https://ui.example.com' })).min(1))),
  TRUSTED_DOCUMENTS: setting('TRUSTED_DOCUMENTS', 'A JSON manifest { "<sha256>": "<document>" }: when set, /graphql runs only these, named by hash.', 'unset: any document', text),
  MAX_REQUEST_BYTES: setting('MAX_REQUEST_BYTES', 'Largest request body, in bytes.', '1048576', integer(1_024, 64 * 1024 * 1024)),
  RATE_LIMIT_MUTATIONS_PER_MINUTE: setting('RATE_LIMIT_MUTATIONS_PER_MINUTE', 'Mutations per minute per token (per replica); input to an open exec session (execInput, execResize) is not counted.', '600', integer(1, 1_000_000)),
  RATE_LIMIT_SUBSCRIPTIONS_PER_MINUTE: setting('RATE_LIMIT_SUBSCRIPTIONS_PER_MINUTE', 'New subscriptions and exec sessions per minute per token (per replica).', '600', integer(1, 1_000_000)),
  GRAPHQL_FAST_PATH: setting('GRAPHQL_FAST_PATH', 'Plain JSON queries and mutations skip yoga\'s request pipeline; recurring queries run compiled by graphql-jit; a subscription event is executed once for all equal subscribers. false: yoga\'s pipeline and executor for all.', 'true', boolean),
  OTEL_EXPORTER_OTLP_ENDPOINT: setting('OTEL_EXPORTER_OTLP_ENDPOINT', 'OpenTelemetry collector (OTLP/HTTP) base URL: traces go to <url>/v1/traces. Unset (and no traces endpoint): no tracing.', 'unset', httpUrl),
  OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: setting('OTEL_EXPORTER_OTLP_TRACES_ENDPOINT', 'Full OTLP/HTTP traces URL; wins over OTEL_EXPORTER_OTLP_ENDPOINT.', 'unset', httpUrl),
  OTEL_SERVICE_NAME: setting('OTEL_SERVICE_NAME', '`service.name` of the spans.', 'nomad-graphql-gateway', text),
} as const;

type SettingName = keyof typeof SETTINGS;
type Values = { [K in SettingName]: (typeof SETTINGS)[K] extends Setting<infer T> ? T | undefined : never };

/** Every environment variable the gateway reads. */
export const ENVIRONMENT_VARIABLES: readonly SettingName[] = Object.keys(SETTINGS) as SettingName[];

const BY_FLAG = new Map<string, SettingName>(ENVIRONMENT_VARIABLES.map((name) => [SETTINGS[name].flag, name]));

/** What `--help` prints: the flags, their variables, meanings and defaults. */
export function helpText(): string {
  const lines = ['Usage: npm start -- [--flag value ...]   (or: tsx src/main.ts [...])', '', 'Each flag can also be set by its environment variable; a flag wins.', ''];
  for (const name of ENVIRONMENT_VARIABLES) {
    const { flag, summary, shownDefault } = SETTINGS[name];
    lines.push(`  ${flag} <value>   ${name}`, `      ${summary} Default: ${shownDefault}.`);
  }
  lines.push('  --help   Print this and exit.');
  return `${lines.join('\n')}\n`;
}

/**
 * Reads `--flag value` and `--flag=value` pairs into variable names. Throws ConfigError for an
 * unknown flag or a flag without a value.
 */
export function parseFlags(argv: readonly string[]): { values: Partial<Record<SettingName, string>>; help: boolean } {
  const values: Partial<Record<SettingName, string>> = {};
  let help = false;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] ?? '';
    if (arg === '--help' || arg === '-h') {
      help = true;
      continue;
    }
    const [flag = '', inline] = arg.startsWith('--') && arg.includes('=') ? [arg.slice(0, arg.indexOf('=')), arg.slice(arg.indexOf('=') + 1)] : [arg, undefined];
    const name = BY_FLAG.get(flag);
    if (name === undefined) throw new ConfigError(`Unknown option ${JSON.stringify(arg)}; see --help`);
    const value = inline ?? argv[++i];
    if (value === undefined) throw new ConfigError(`${flag} needs a value`);
    values[name] = value;
  }
  return { values, help };
}

/** Every setting checked; an empty or blank value counts as unset. Throws ConfigError naming the first bad one. */
function checkAll(raw: Readonly<Record<string, string | undefined>>): Values {
  const values: Partial<Record<SettingName, unknown>> = {};
  for (const name of ENVIRONMENT_VARIABLES) {
    const text = raw[name]?.trim();
    if (text === undefined || text === '') continue;
    const result = SETTINGS[name].check.safeParse(text);
    if (!result.success) throw new ConfigError(`${name} ${result.error.issues[0]?.message ?? 'is invalid'}, got ${JSON.stringify(text)}`);
    values[name] = result.data;
  }
  return values as Values;
}

/**
 * The traces URL from the OTLP variables: the traces endpoint as given, or `/v1/traces` after the
 * base endpoint (as the OTLP exporter specification says). Undefined when neither is set.
 */
export function otlpTracesUrl(endpoint: string | undefined, tracesEndpoint: string | undefined): string | undefined {
  if (tracesEndpoint !== undefined) return tracesEndpoint;
  if (endpoint === undefined) return undefined;
  return `${endpoint.replace(/\/+$/, '')}/v1/traces`;
}

function tracingConfig(v: Values): TracingConfig | undefined {
  const tracesUrl = otlpTracesUrl(v.OTEL_EXPORTER_OTLP_ENDPOINT, v.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT);
  return tracesUrl === undefined ? undefined : { tracesUrl, serviceName: v.OTEL_SERVICE_NAME ?? 'nomad-graphql-gateway' };
}

/**
 * The configuration from the environment and the command line (flags win). Pure: throws
 * ConfigError with a message naming the setting; `--help` is the caller's to handle (`parseFlags`).
 */
export function parseConfig(env: Readonly<Record<string, string | undefined>>, argv: readonly string[] = []): Config {
  const { values: flags } = parseFlags(argv);
  const v = checkAll({ ...env, ...flags });
  const nomad: NomadConfig | undefined =
    v.NOMAD_ADDR === undefined
      ? undefined
      : {
          address: v.NOMAD_ADDR,
          region: v.NOMAD_REGION,
          namespace: v.NOMAD_NAMESPACE,
          caCertPath: v.NOMAD_CACERT,
          clientCertPath: v.NOMAD_CLIENT_CERT,
          clientKeyPath: v.NOMAD_CLIENT_KEY,
          tlsServerName: v.NOMAD_TLS_SERVER_NAME,
          skipVerify: v.NOMAD_SKIP_VERIFY ?? false,
          timeoutMs: v.NOMAD_HTTP_TIMEOUT_MS,
          gzip: v.NOMAD_HTTP_GZIP ?? false,
        };
  if (nomad !== undefined && (nomad.clientCertPath === undefined) !== (nomad.clientKeyPath === undefined)) {
    throw new ConfigError('NOMAD_CLIENT_CERT and NOMAD_CLIENT_KEY go together');
  }
  return {
    port: v.PORT ?? 4000,
    host: v.HOST ?? (nomad === undefined ? '127.0.0.1' : '0.0.0.0'),
    shutdownTimeoutMs: v.SHUTDOWN_TIMEOUT_MS ?? 10_000,
    nomad,
    defaultToken: v.NOMAD_TOKEN,
    logLevel: v.LOG_LEVEL ?? 'info',
    redis: v.REDIS_URL === undefined ? undefined : { url: v.REDIS_URL, prefix: v.REDIS_PREFIX ?? 'nomadgw:' },
    trustedDocumentsPath: v.TRUSTED_DOCUMENTS,
    tracing: tracingConfig(v),
    fastPath: v.GRAPHQL_FAST_PATH ?? true,
    security: {
      graphiql: v.GRAPHIQL ?? DEFAULT_SECURITY.graphiql,
      introspection: v.INTROSPECTION ?? DEFAULT_SECURITY.introspection,
      // With a default token, any page a user of the network opens could act with it: no CORS then.
      corsOrigins: v.CORS_ORIGINS ?? (v.NOMAD_TOKEN === undefined ? undefined : []),
      maxRequestBytes: v.MAX_REQUEST_BYTES ?? DEFAULT_SECURITY.maxRequestBytes,
      mutationsPerMinute: v.RATE_LIMIT_MUTATIONS_PER_MINUTE ?? DEFAULT_SECURITY.mutationsPerMinute,
      subscriptionsPerMinute: v.RATE_LIMIT_SUBSCRIPTIONS_PER_MINUTE ?? DEFAULT_SECURITY.subscriptionsPerMinute,
    },
    watch: {
      leaseTtlMs: v.WATCH_LEASE_TTL_MS ?? 15_000,
      waitMs: v.WATCH_WAIT_MS ?? 55_000,
      maxSubscriptions: v.WATCH_MAX_SUBSCRIPTIONS ?? 10_000,
    },
  };
}
