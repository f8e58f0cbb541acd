// Every project command answers --help with its usage and does nothing else:
// `npm run reset -- --help` must not delete, `npm run provision -- --help`
// must not connect anywhere.
import { execFile } from 'node:child_process'
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'

const ROOT = join(import.meta.dirname, '..', '..')
const BUN = join(ROOT, 'node_modules', '.bin', 'bun')
const state = mkdtempSync(join(tmpdir(), 'help-state-'))
afterAll(() => rmSync(state, { recursive: true, force: true }))

function run(
  script: string,
  args: readonly string[],
): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      BUN,
      [script, ...args],
      // An address nothing answers on: a command that ignored --help would hang or fail, not pass.
      {
        cwd: ROOT,
        timeout: 20_000,
        env: { ...process.env, ORDER_SAGA_STATE_DIR: state, NATS_URL: 'nats://127.0.0.1:9' },
      },
      (error, stdout, stderr) =>
        resolve({
          code: error === null ? 0 : typeof error.code === 'number' ? error.code : -1,
          stdout,
          stderr,
        }),
    )
  })
}

describe('--help', () => {
  it.each([
    ['scripts/reset.ts', 'usage: npm run reset'],
    ['scripts/provision.ts', 'usage: npm run provision'],
    ['scripts/dlq.ts', 'usage: npm run dlq'],
    ['scripts/build.ts', 'usage: npm run build'],
    ['bench/run.ts', 'usage: npm run bench'],
    ['scripts/dev-edge.ts', 'usage: npm run dev:edge'],
    ['scripts/build-edge.ts', 'usage: npm run build:edge'],
    ['scripts/build-node.ts', 'usage: npm run build:node'],
    ['scripts/container/compose-secrets.ts', 'usage: npm run compose:secrets'],
    ['scripts/check-schemas.ts', 'usage: npm run schemas:check'],
    ['scripts/generate-schemas.ts', 'usage: npm run schemas'],
    ['scripts/publish-schemas.ts', 'usage: npm run schemas:publish'],
  ])('%s prints its usage and exits 0', async (script, usage) => {
    mkdirSync(join(state, 'jetstream'), { recursive: true })
    writeFileSync(join(state, 'env'), 'export X=1\n')
    const { code, stdout } = await run(script, ['--help'])
    expect([code, stdout.split('\n')[0]]).toStrictEqual([0, expect.stringContaining(usage)])
    expect(existsSync(join(state, 'env')), 'the state folder is kept').toBe(true)
  })

  it('refuses an argument reset does not take, and deletes nothing', async () => {
    writeFileSync(join(state, 'env'), 'export X=1\n')
    const { code, stderr } = await run('scripts/reset.ts', ['--force'])
    expect(code).toBe(1)
    expect(stderr).toContain('unexpected argument "--force"')
    expect(existsSync(join(state, 'env'))).toBe(true)
  })
})
