import type { Logger } from 'pino';
import type { NomadClient } from '../nomad/client.ts';

/** Where readiness is answered (yoga's readiness plugin; `http-drain.ts` while shutting down). */
export const READINESS_ENDPOINT = '/readyz';

/** One dependency `/readyz` waits for. `check` resolves true when it is usable. */
export interface ReadinessCheck {
  name: string;
  check(): Promise<boolean>;
}

/**
 * Nomad is ready when it answers `/v1/status/leader` (no ACL needed, so this asks only "can we
 * reach Nomad"). Failures are logged here, by name and message; `/readyz` itself answers a bare
 * 503 so it never shows Nomad's internal address to whoever can reach it.
 */
export function nomadReadiness(nomad: NomadClient, logger: Logger): ReadinessCheck {
  return {
    name: 'nomad',
    check: async () => {
      try {
        await nomad.statusLeader({ timeoutMs: 2_000 });
        return true;
      } catch (error) {
        logger.warn(`readiness check failed: ${error instanceof Error ? `${error.name}: ${error.message}` : String(error)}`);
        return false;
      }
    },
  };
}

/** Every check, run together: ready only when all of them are. */
export async function allReady(checks: readonly ReadinessCheck[]): Promise<boolean> {
  const results = await Promise.all(checks.map((c) => c.check()));
  return results.every(Boolean);
}
