import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it, onTestFinished } from 'vitest';
import type { BenchRun } from '../../bench/report.ts';

/**
 * `npm run bench -- --quick`: every scenario with tiny sizes, as its own process starting its own
 * simulator and gateways, so that the harness keeps working. Its figures are not measurements;
 * what is checked is that every figure has its baseline, ratio and target verdict.
 */
function runBench(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'bench/run.ts', ...args], {
      cwd: new URL('../../', import.meta.url),
      env: { PATH: process.env['PATH'] ?? '' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('error', reject);
    child.on('exit', (code) => resolve({ code, stdout, stderr }));
  });
}

describe('npm run bench -- --quick', () => {
  it('runs every scenario against its baseline and writes the JSON and the Markdown table', { timeout: 240_000 }, async () => {
    const out = mkdtempSync(join(tmpdir(), 'bench-'));
    onTestFinished(() => rmSync(out, { recursive: true, force: true }));
    const { code, stdout, stderr } = await runBench(['--quick', '--out', out]);
    expect(code, stderr).toBe(0);
    const files = readdirSync(out);
    expect(files).toHaveLength(1);
    expect(files[0]).toMatch(/^\d{4}-\d{2}-\d{2}-quick\.json$/);
    const run = JSON.parse(readFileSync(join(out, files[0] ?? ''), 'utf8')) as BenchRun;
    expect(run.quick).toBe(true);
    expect(run.machine.cpus).toBeGreaterThan(0);
    const scenarios = new Set(run.figures.map((f) => f.scenario));
    expect([...scenarios].sort()).toEqual(
      [
        'batching',
        'exec bulk output',
        'exec keystroke echo',
        'exec session start',
        'live fan-out',
        'live fan-out, 10 subscribers over 2 replicas',
        'live fan-out, 40 subscribers over 2 replicas',
        'query overhead',
        'query overhead, concurrency 1',
        'query overhead, concurrency 32',
        'scale paging',
        'scale subscription',
      ].sort(),
    );
    for (const f of run.figures) {
      expect(Number.isFinite(f.value), `${f.scenario}: ${f.measure}`).toBe(true);
      expect(f.baseline.value, `${f.scenario}: ${f.measure}`).toBeGreaterThan(0);
      expect(f.ratio).toBeCloseTo(f.value / f.baseline.value, 9);
      if (f.target !== undefined) expect(typeof f.met).toBe('boolean');
      expect(stdout).toContain(`| ${f.scenario} | ${f.measure} |`);
    }
    // The targets are reported with their verdicts.
    const targeted = run.figures.filter((f) => f.target !== undefined).map((f) => `${f.scenario}: ${f.measure}`);
    for (const expected of [
      'query overhead, concurrency 1: p50 latency',
      'query overhead, concurrency 32: throughput',
      'exec keystroke echo: p50 round trip',
      'exec bulk output: throughput',
      'live fan-out, 40 subscribers over 2 replicas: upstream blocking queries in flight',
      'live fan-out, 40 subscribers over 2 replicas: delivery latency p99',
      'live fan-out, 40 subscribers over 2 replicas: gateway memory per idle subscription',
    ]) {
      expect(targeted.some((name) => name.startsWith(expected)), expected).toBe(true);
    }
    // One upstream watcher for every subscriber of one question, on either replica.
    for (const f of run.figures.filter((f) => f.measure === 'upstream blocking queries in flight')) expect(f.value).toBe(1);
    // A page with its links costs a handful of batched calls, not one per link.
    const batching = run.figures.find((f) => f.scenario === 'batching');
    expect(batching?.value).toBeLessThan(30);
  });

  it('refuses an unknown scenario group with exit code 2', async () => {
    const { code, stderr } = await runBench(['--quick', '--only', 'nope']);
    expect(code).toBe(2);
    expect(stderr).toContain('unknown group(s) nope; known: query, exec, live, scale');
  });
});
