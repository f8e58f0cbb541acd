import { defineConfig } from 'vitest/config'
import { VITE_TEXT_IMPORT_IDS, viteTextImports } from './scripts/text-imports.ts'

const HEAVY = ['test/chaos.test.ts', 'test/compose.test.ts']

export default defineConfig({
  // Swagger UI's files, imported `with { type: 'text' }` (shared/http/swagger-ui-assets.ts).
  plugins: [viteTextImports()],
  test: {
    server: { deps: { inline: [VITE_TEXT_IMPORT_IDS] } },
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // Integration suites spawn servers and processes; two cores here.
    maxWorkers: 2,
    globalSetup: ['test/harness/global-setup.ts'],
    projects: [
      {
        extends: true,
        test: {
          name: 'main',
          include: ['**/*.test.ts'],
          exclude: ['node_modules/**', 'dist/**', '.local/**', 'bench/.cache/**', ...HEAVY],
        },
      },
      {
        // The fault suite and the compose stack load the whole machine: one at a time.
        extends: true,
        test: { name: 'heavy', include: HEAVY, fileParallelism: false, maxWorkers: 1 },
      },
    ],
  },
})
