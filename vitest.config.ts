import { createRequire } from 'node:module';
import { defineConfig } from 'vitest/config';

const require = createRequire(import.meta.url);

export default defineConfig({
  resolve: {
    // graphql 16 ships both index.js and index.mjs. Node loads index.js for our dependencies
    // (Pothos, yoga); vite would give test files index.mjs, and two copies of graphql refuse
    // each other's schemas. Point everything at the one Node loads.
    alias: [{ find: /^graphql$/, replacement: require.resolve('graphql') }],
  },
  test: {
    testTimeout: 20_000,
    hookTimeout: 20_000,
    pool: 'forks',
    projects: [
      { extends: true, test: { name: 'suite', include: ['test/**/*.test.ts'] } },
      // The gateway suites again on yoga's own pipeline and executor (test/helpers/gateway.ts's
      // engineUnderTest): every behaviour is proven on the fast path and on the reference one, and
      // subscriptions both with events shared between subscribers and executed per subscriber.
      {
        extends: true,
        test: {
          name: 'reference-engine',
          include: [
            'test/integration/gateway/**/*.test.ts',
            'test/clients/**/*.test.ts',
            'test/integration/federation/**/*.test.ts',
            'test/integration/live/subscriptions.test.ts',
            'test/integration/live/fan-out.test.ts',
          ],
          env: { GATEWAY_ENGINE: 'reference' },
        },
      },
    ],
  },
});
