import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** A throwaway CA, a server certificate for `server.global.nomad` and a client certificate. */
export interface TestPki {
  pem(name: 'ca.pem' | 'server.pem' | 'server.key' | 'client.pem' | 'client.key'): string;
  dispose(): void;
}

export function createTestPki(): TestPki {
  const dir = mkdtempSync(join(tmpdir(), 'nomad-test-pki-'));
  const run = (...args: string[]): void => {
    execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
  };
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  run('req', '-x509', ...ec, '-keyout', 'ca.key', '-out', 'ca.pem', '-days', '2', '-subj', '/CN=Nomad Test CA');
  for (const [name, usage] of [
    ['server', 'subjectAltName=DNS:server.global.nomad\nextendedKeyUsage=serverAuth\n'],
    ['client', 'extendedKeyUsage=clientAuth\n'],
  ] as const) {
    run('req', ...ec, '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', `/CN=${name}.global.nomad`);
    writeFileSync(join(dir, `${name}.ext`), usage);
    const ca = ['-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial'];
    run('x509', '-req', '-in', `${name}.csr`, ...ca, '-out', `${name}.pem`, '-days', '2', '-extfile', `${name}.ext`);
  }
  return {
    pem: (name) => readFileSync(join(dir, name), 'utf8'),
    dispose: () => rmSync(dir, { recursive: true, force: true }),
  };
}
