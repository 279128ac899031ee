import { spawn } from 'node:child_process';
import { describe, expect, it } from 'vitest';

/** `npm start` as a process: what a person sees for --help and for a bad setting. */
function runMain(args: string[], env: Record<string, string> = {}): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts', ...args], {
      cwd: new URL('../../../', import.meta.url),
      env: { PATH: process.env['PATH'] ?? '', NODE_ENV: 'production', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
    child.on('error', reject);
    child.on('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

describe('starting the gateway', () => {
  it('should print every setting for --help and exit 0', async () => {
    const { code, stdout } = await runMain(['--help']);
    expect(code).toBe(0);
    expect(stdout).toContain('--nomad-addr <value>   NOMAD_ADDR');
    expect(stdout).toContain('--redis-url <value>   REDIS_URL');
  });

  it('should refuse a bad setting, from a flag or the environment, with its name and exit code 2', async () => {
    const flag = await runMain(['--port', 'eighty']);
    expect(flag.code).toBe(2);
    expect(flag.stderr).toBe('nomad-graphql-gateway: PORT must be an integer from 0 to 65535, got "eighty"\n');
    const env = await runMain([], { NOMAD_ADDR: 'ftp://nomad' });
    expect(env.code).toBe(2);
    expect(env.stderr).toContain('NOMAD_ADDR must be http or https');
    const unknown = await runMain(['--nomad-adr', 'x']);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain('Unknown option "--nomad-adr"');
  }, 60_000);
});
