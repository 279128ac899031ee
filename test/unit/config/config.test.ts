import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { ConfigError, ENVIRONMENT_VARIABLES, helpText, parseConfig, parseFlags } from '../../../src/config.ts';
import { DEFAULT_SECURITY } from '../../../src/server/security.ts';

describe('parseConfig', () => {
  it('should run over the embedded simulator on loopback port 4000 with no settings', () => {
    expect(parseConfig({})).toEqual({ port: 4000, host: '127.0.0.1', shutdownTimeoutMs: 10_000, nomad: undefined, defaultToken: undefined, logLevel: 'info',
      redis: undefined,
      trustedDocumentsPath: undefined,
      tracing: undefined,
      fastPath: true,
      watch: { leaseTtlMs: 15_000, waitMs: 55_000, maxSubscriptions: 10_000 },
      security: DEFAULT_SECURITY,
    });
  });

  it('should read Nomad\'s own variable names', () => {
    const config = parseConfig({
      NOMAD_ADDR: 'https://nomad.example.com:4646/',
      NOMAD_TOKEN: 'secret',
      NOMAD_REGION: 'eu',
      NOMAD_NAMESPACE: 'prod',
      NOMAD_CACERT: '/etc/ca.pem',
      NOMAD_CLIENT_CERT: '/etc/c.pem',
      NOMAD_CLIENT_KEY: '/etc/k.pem',
      NOMAD_TLS_SERVER_NAME: 'server.global.nomad',
      NOMAD_SKIP_VERIFY: 'true',
      PORT: '8080',
    });
    expect(config.nomad).toMatchObject({
      address: 'https://nomad.example.com:4646',
      region: 'eu',
      namespace: 'prod',
      caCertPath: '/etc/ca.pem',
      tlsServerName: 'server.global.nomad',
      skipVerify: true,
    });
    expect(config.defaultToken).toBe('secret');
    expect(config.host).toBe('0.0.0.0');
    expect(config.port).toBe(8080);
  });

  it('should leave gzip off towards Nomad unless NOMAD_HTTP_GZIP asks for it', () => {
    expect(parseConfig({ NOMAD_ADDR: 'http://x' }).nomad?.gzip).toBe(false);
    expect(parseConfig({ NOMAD_ADDR: 'http://x', NOMAD_HTTP_GZIP: 'true' }).nomad?.gzip).toBe(true);
  });

  it('should add http:// to a bare host:port, as the Nomad CLI does', () => {
    expect(parseConfig({ NOMAD_ADDR: '10.0.0.5:4646' }).nomad?.address).toBe('http://10.0.0.5:4646');
  });

  it('should refuse bad values with a message naming the variable', () => {
    expect(() => parseConfig({ PORT: 'eighty' })).toThrow(new ConfigError('PORT must be an integer from 0 to 65535, got "eighty"'));
    expect(() => parseConfig({ NOMAD_ADDR: 'ftp://x' })).toThrow(/NOMAD_ADDR must be http or https/);
    expect(() => parseConfig({ NOMAD_ADDR: 'http://x', NOMAD_CLIENT_CERT: '/c.pem' })).toThrow(/go together/);
    expect(() => parseConfig({ NOMAD_ADDR: 'http://x', NOMAD_SKIP_VERIFY: 'maybe' })).toThrow(/NOMAD_SKIP_VERIFY/);
    expect(() => parseConfig({ LOG_LEVEL: 'loud' })).toThrow(/LOG_LEVEL/);
    expect(() => parseConfig({ NOMAD_TOKEN: 'two words' })).toThrow(/NOMAD_TOKEN must be printable ASCII/);
    expect(() => parseConfig({ REDIS_URL: 'localhost:6379' })).toThrow(/REDIS_URL must start with redis:\/\//);
  });

  it('should share live views through Redis when REDIS_URL is set, under a prefix', () => {
    expect(parseConfig({ REDIS_URL: 'redis://127.0.0.1:6379/0' }).redis).toEqual({ url: 'redis://127.0.0.1:6379/0', prefix: 'nomadgw:' });
    expect(parseConfig({ REDIS_URL: 'rediss://r:6380', REDIS_PREFIX: 'team-a:' }).redis).toEqual({ url: 'rediss://r:6380', prefix: 'team-a:' });
    expect(parseConfig({ WATCH_LEASE_TTL_MS: '2000', WATCH_WAIT_MS: '5000', WATCH_MAX_SUBSCRIPTIONS: '50' }).watch).toEqual({
      leaseTtlMs: 2_000,
      waitMs: 5_000,
      maxSubscriptions: 50,
    });
    expect(() => parseConfig({ WATCH_WAIT_MS: '400000' })).toThrow(/WATCH_WAIT_MS must be an integer from 1000 to 300000/);
  });

  it('should bound the graceful shutdown by SHUTDOWN_TIMEOUT_MS', () => {
    expect(parseConfig({ SHUTDOWN_TIMEOUT_MS: '2500' }).shutdownTimeoutMs).toBe(2_500);
    expect(() => parseConfig({ SHUTDOWN_TIMEOUT_MS: '0' })).toThrow(new ConfigError('SHUTDOWN_TIMEOUT_MS must be an integer from 100 to 600000, got "0"'));
  });

  it('should take every setting as a flag too, a flag winning over its variable', () => {
    const config = parseConfig({ PORT: '8080', NOMAD_ADDR: 'http://from-env:4646' }, ['--port', '9090', '--nomad-addr=https://from-flag:4646', '--redis-url', 'redis://r:6379']);
    expect(config.port).toBe(9090);
    expect(config.nomad?.address).toBe('https://from-flag:4646');
    expect(config.redis?.url).toBe('redis://r:6379');
    expect(() => parseConfig({}, ['--port'])).toThrow(new ConfigError('--port needs a value'));
    expect(() => parseConfig({}, ['--prot', '1'])).toThrow(/Unknown option "--prot"/);
    expect(() => parseConfig({}, ['--port', 'x'])).toThrow(new ConfigError('PORT must be an integer from 0 to 65535, got "x"'));
  });

  it('should describe every setting in --help, by flag and variable, and ask for help with --help or -h', () => {
    const help = helpText();
    for (const name of ENVIRONMENT_VARIABLES) {
      expect(help).toContain(name);
      expect(help).toContain(`--${name.toLowerCase().replaceAll('_', '-')} <value>`);
    }
    expect(parseFlags(['--help']).help).toBe(true);
    expect(parseFlags(['-h', '--port', '1']).help).toBe(true);
    expect(parseFlags(['--port', '1']).help).toBe(false);
  });

  it('should be documented: the README\'s configuration table lists every setting', () => {
    const readme = readFileSync(new URL('../../../README.md', import.meta.url), 'utf8');
    for (const name of ENVIRONMENT_VARIABLES) expect(readme, name).toContain(`| \`${name}\``);
  });

  it('should read what a deployment locks down', () => {
    const { security } = parseConfig({
      GRAPHIQL: 'false',
      INTROSPECTION: 'no',
      CORS_ORIGINS: 'https://ui.example.com, http://localhost:5173',
      MAX_REQUEST_BYTES: '65536',
      RATE_LIMIT_MUTATIONS_PER_MINUTE: '30',
      RATE_LIMIT_SUBSCRIPTIONS_PER_MINUTE: '10',
    });
    expect(security).toEqual({
      graphiql: false,
      introspection: false,
      corsOrigins: ['https://ui.example.com', 'http://localhost:5173'],
      maxRequestBytes: 65_536,
      mutationsPerMinute: 30,
      subscriptionsPerMinute: 10,
    });
    expect(() => parseConfig({ CORS_ORIGINS: 'ui.example.com' })).toThrow(/CORS_ORIGINS must list origins such as https:\/\/ui.example.com/);
    expect(() => parseConfig({ MAX_REQUEST_BYTES: '10' })).toThrow(/MAX_REQUEST_BYTES must be an integer from 1024/);
  });

  it('should allow no other origin by default when callers without a token act with NOMAD_TOKEN', () => {
    expect(parseConfig({}).security.corsOrigins).toBeUndefined();
    expect(parseConfig({ NOMAD_TOKEN: 'secret' }).security.corsOrigins).toEqual([]);
    expect(parseConfig({ NOMAD_TOKEN: 'secret', CORS_ORIGINS: 'https://ui.example.com' }).security.corsOrigins).toEqual(['https://ui.example.com']);
  });

  it('should turn the fast path and compiled execution off with GRAPHQL_FAST_PATH=false', () => {
    expect(parseConfig({ GRAPHQL_FAST_PATH: 'false' }).fastPath).toBe(false);
    expect(parseConfig({}, ['--graphql-fast-path', 'true']).fastPath).toBe(true);
    expect(() => parseConfig({ GRAPHQL_FAST_PATH: 'sometimes' })).toThrow(/GRAPHQL_FAST_PATH must be true or false/);
  });

  it('should trace only when an OTLP endpoint is set, to the traces URL the OTLP exporter specification gives', () => {
    expect(parseConfig({}).tracing).toBeUndefined();
    expect(parseConfig({ OTEL_SERVICE_NAME: 'east' }).tracing).toBeUndefined();
    expect(parseConfig({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318/' }).tracing).toEqual({
      tracesUrl: 'http://collector:4318/v1/traces',
      serviceName: 'nomad-graphql-gateway',
    });
    expect(
      parseConfig({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318', OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'https://traces.example.com/in', OTEL_SERVICE_NAME: 'east' })
        .tracing,
    ).toEqual({ tracesUrl: 'https://traces.example.com/in', serviceName: 'east' });
    expect(parseConfig({}, ['--otel-exporter-otlp-endpoint', 'http://c:4318']).tracing?.tracesUrl).toBe('http://c:4318/v1/traces');
    expect(() => parseConfig({ OTEL_EXPORTER_OTLP_ENDPOINT: 'collector:4318' })).toThrow(/OTEL_EXPORTER_OTLP_ENDPOINT must be an http:\/\/ or https:\/\/ URL/);
  });
});
