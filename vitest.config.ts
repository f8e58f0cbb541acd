import { defineConfig } from 'vitest/config'

export default defineConfig({
  test: {
    include: ['**/*.test.ts'],
    exclude: ['node_modules/**', 'dist/**', '.local/**'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // Integration suites spawn servers and processes; two cores here.
    maxWorkers: 2,
    globalSetup: ['test/harness/global-setup.ts'],
  },
})
