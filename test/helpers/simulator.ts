import { afterAll, beforeAll } from 'vitest';
import { startSimulator, type Simulator, type SimulatorOptions } from '../../src/simulator/server.ts';

/**
 * Starts a simulator on an ephemeral port for the enclosing `describe` and stops it after.
 * Returns a getter, since the simulator exists only once `beforeAll` has run.
 */
export function useSimulator(options: SimulatorOptions = {}): () => Simulator {
  let sim: Simulator | undefined;
  beforeAll(async () => {
    sim = await startSimulator({ timing: { schedulerMs: 5, clientMs: 5 }, ...options });
  });
  afterAll(async () => {
    await sim?.stop();
  });
  return () => {
    if (sim === undefined) throw new Error('simulator not started yet');
    return sim;
  };
}
