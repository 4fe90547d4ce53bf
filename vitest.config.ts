import { defineConfig } from 'vitest/config'

export default defineConfig({
  test: {
    include: ['src/**/*.test.ts', 'examples/**/*.test.ts', 'test/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // libp2p suites start many real nodes; two cores are shared, so keep files from piling up.
    maxWorkers: 2,
    fileParallelism: true,
    // Peers log JSON lines to stderr; keep test output to failures.
    env: { CLAWMESH_LOG: process.env.CLAWMESH_LOG ?? 'error' },
  },
})
