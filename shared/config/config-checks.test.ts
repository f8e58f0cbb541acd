import { describe, expect, it, vi } from 'vitest'
import { loadInventoryConfig } from '../../workers/inventory/config.ts'
import { runProvision } from '../../workers/provision/main.ts'
import * as v from 'valibot'
import { boolFromEnv, ConfigError, loadConfig } from './load-config.ts'

const API_KEYS = `admin:admin:${'a'.repeat(64)}`

/** What `run` writes to stderr, one entry per write. */
async function stderrOf(run: () => Promise<void>): Promise<string[]> {
  const written: string[] = []
  const spy = vi.spyOn(process.stderr, 'write').mockImplementation((chunk) => {
    written.push(String(chunk))
    return true
  })
  try {
    await run()
  } finally {
    spy.mockRestore()
  }
  return written
}

describe('stream retention against the order deadline', () => {
  it('the inventory does not start with streams that would drop a deadline before it fires', () => {
    expect(() => loadInventoryConfig({ API_KEYS, STREAM_MAX_AGE_MS: '60000' })).toThrow(ConfigError)
    expect(() => loadInventoryConfig({ API_KEYS, STREAM_MAX_AGE_MS: '60000' })).toThrow(
      "STREAM_MAX_AGE_MS (60000) must be longer than ORDER_DEADLINE_MS (600000): an order's events and its deadline would expire before the deadline fires",
    )
    expect(() =>
      loadInventoryConfig({
        API_KEYS,
        STREAM_MAX_AGE_MS: '120000',
        STREAM_DUPLICATE_WINDOW_MS: '180000',
        ORDER_DEADLINE_MS: '60000',
      }),
    ).toThrow('STREAM_DUPLICATE_WINDOW_MS (180000) must not be longer than STREAM_MAX_AGE_MS (120000)')
    expect(
      loadInventoryConfig({ API_KEYS, STREAM_MAX_AGE_MS: '120000', ORDER_DEADLINE_MS: '60000' })
        .STREAM_MAX_AGE_MS,
    ).toBe(120_000)
    // A redelivery after the ack wait must still find its first publish inside the duplicate window.
    expect(() => loadInventoryConfig({ API_KEYS, STREAM_DUPLICATE_WINDOW_MS: '1000' })).toThrow(
      'STREAM_DUPLICATE_WINDOW_MS (1000) must be at least CONSUMER_ACK_WAIT_MS (30000)',
    )
    expect(
      loadInventoryConfig({ API_KEYS, STREAM_DUPLICATE_WINDOW_MS: '5000', CONSUMER_ACK_WAIT_MS: '5000' })
        .STREAM_DUPLICATE_WINDOW_MS,
    ).toBe(5_000)
  })

  it('names them beside any other problem, not on the next start', async () => {
    const env = { ORDER_DEADLINE_MS: '604800000', STREAM_MAX_AGE_MS: '604800000' }
    let problems: readonly string[] = []
    try {
      loadInventoryConfig(env)
    } catch (error) {
      if (error instanceof ConfigError) problems = error.problems
    }
    expect(problems).toStrictEqual([
      'API_KEYS: is required',
      expect.stringContaining(
        'STREAM_MAX_AGE_MS (604800000) must be longer than ORDER_DEADLINE_MS (604800000)',
      ),
    ])
    // One of the four not valid itself: its own problem, no comparison with it.
    expect(() => loadInventoryConfig({ STREAM_MAX_AGE_MS: 'soon' })).toThrow(/STREAM_MAX_AGE_MS: /)
    const written = await stderrOf(async () => {
      expect(await runProvision({ ...env, NATS_URL: 'nats://127.0.0.1:1', NATS_REPLICAS: '2' })).toBe(1)
    })
    expect(written.join('')).toMatch(/NATS_REPLICAS[\s\S]*STREAM_MAX_AGE_MS \(604800000\) must be longer/)
  })

  it('the provision step refuses them before it connects, naming both settings', async () => {
    // Nothing listens there: a refused configuration never gets as far as connecting.
    const written = await stderrOf(async () => {
      expect(await runProvision({ NATS_URL: 'nats://127.0.0.1:1', STREAM_MAX_AGE_MS: '60000' })).toBe(1)
    })
    expect(written.join('')).toContain(
      'STREAM_MAX_AGE_MS (60000) must be longer than ORDER_DEADLINE_MS (600000)',
    )
  })

  it("the provision step reads only its own secrets' files (a shared environment may name the workers')", async () => {
    const env = {
      NATS_URL: 'nats://127.0.0.1:1',
      STREAM_MAX_AGE_MS: '60000',
      API_KEYS_FILE: '/nonexistent/API_KEYS',
      GATEWAY_SECRET_KEY_FILE: '/nonexistent/GATEWAY_SECRET_KEY',
    }
    const [first = '', second = ''] = await stderrOf(async () => {
      expect(await runProvision(env)).toBe(1)
      expect(await runProvision({ ...env, NATS_NKEY_SEED_FILE: '/nonexistent/NATS_NKEY_SEED' })).toBe(1)
    })
    expect(first).toContain('STREAM_MAX_AGE_MS (60000)')
    expect(first).not.toMatch(/API_KEYS|GATEWAY_SECRET_KEY/)
    expect(second).toContain('NATS_NKEY_SEED_FILE')
  })
})

describe('IDEMPOTENCY_FINGERPRINT_KEY', () => {
  it('is refused with a blank at either end (every intake must hold the same key), never echoing it', async () => {
    const { loadOrderConfig } = await import('../../workers/order/config.ts')
    const { generateDeploymentSecrets, serviceSecrets } = await import('../security/deployment-secrets.ts')
    const env = await serviceSecrets('order', await generateDeploymentSecrets())
    const key = 'k'.repeat(40)
    expect(loadOrderConfig({ ...env, IDEMPOTENCY_FINGERPRINT_KEY: key }).IDEMPOTENCY_FINGERPRINT_KEY).toBe(
      key,
    )
    for (const padded of [`${key}\n`, ` ${key}`, `${key}  `]) {
      let message = ''
      try {
        loadOrderConfig({ ...env, IDEMPOTENCY_FINGERPRINT_KEY: padded })
      } catch (error) {
        message = (error as Error).message
      }
      expect(message).toContain('IDEMPOTENCY_FINGERPRINT_KEY: must not start or end with whitespace')
      expect(message).not.toContain(key)
    }
  })

  it('takes `new,old` during a rotation: the new key checked for length, every key for blanks', async () => {
    const { loadOrderConfig } = await import('../../workers/order/config.ts')
    const { generateDeploymentSecrets, serviceSecrets } = await import('../security/deployment-secrets.ts')
    const env = await serviceSecrets('order', await generateDeploymentSecrets())
    const [newKey, oldKey] = ['n'.repeat(40), 'o'.repeat(40)]
    expect(
      loadOrderConfig({ ...env, IDEMPOTENCY_FINGERPRINT_KEY: `${newKey},${oldKey}` })
        .IDEMPOTENCY_FINGERPRINT_KEY,
    ).toBe(`${newKey},${oldKey}`)
    // An earlier key is what it was: a short NATS token an intake derived its digests from, say.
    expect(
      loadOrderConfig({ ...env, IDEMPOTENCY_FINGERPRINT_KEY: `${newKey},short-token` })
        .IDEMPOTENCY_FINGERPRINT_KEY,
    ).toBe(`${newKey},short-token`)
    for (const [list, problem] of [
      [`short,${oldKey}`, 'must be at least 32 characters'],
      [`${newKey},`, 'must not hold an empty key'],
      [`${newKey},,${oldKey}`, 'must not hold an empty key'],
      [`${newKey}, ${oldKey}`, 'must not start or end with whitespace'],
    ] as const) {
      expect(() => loadOrderConfig({ ...env, IDEMPOTENCY_FINGERPRINT_KEY: list }), list).toThrow(
        `IDEMPOTENCY_FINGERPRINT_KEY: ${problem}`,
      )
    }
  })
})

describe('settings read as booleans', () => {
  const schema = v.object({ FLAG: boolFromEnv(false) })
  it('take true/false, 1/0 and yes/no in any case, and name the choices otherwise', () => {
    for (const [text, value] of [
      ['true', true],
      ['TRUE', true],
      ['Yes', true],
      ['1', true],
      ['False', false],
      ['no', false],
      ['0', false],
    ] as const)
      expect(loadConfig(schema, { FLAG: text }).FLAG, text).toBe(value)
    expect(loadConfig(schema, {}).FLAG).toBe(false)
    expect(() => loadConfig(schema, { FLAG: 'on' })).toThrow(
      'FLAG: must be true or false (1 or 0, yes or no)',
    )
  })
})

describe('ORDER_EXPRESS_KEYS', () => {
  it('names an id that is no key of API_KEYS (nobody would get express), beside any other problem', async () => {
    const { loadOrderConfig } = await import('../../workers/order/config.ts')
    const { generateDeploymentSecrets, serviceSecrets } = await import('../security/deployment-secrets.ts')
    const env = await serviceSecrets('order', await generateDeploymentSecrets())
    const ids = (env['API_KEYS'] ?? '').split(/[,\n]/).map((entry) => entry.split(':')[0] ?? '')
    // Every id of API_KEYS is taken, an admin's too (it may place express anyway).
    expect(loadOrderConfig({ ...env, ORDER_EXPRESS_KEYS: ids.join(',') }).ORDER_EXPRESS_KEYS).toStrictEqual(
      new Set(ids),
    )
    const problemsOf = (given: Record<string, string>): readonly string[] => {
      try {
        loadOrderConfig(given)
      } catch (error) {
        if (error instanceof ConfigError) return error.problems
      }
      return []
    }
    expect(problemsOf({ ...env, ORDER_EXPRESS_KEYS: `${ids[0]},clinet` })).toStrictEqual([
      expect.stringMatching(/^ORDER_EXPRESS_KEYS: "clinet" is not the id of a key in API_KEYS \(/),
    ])
    expect(problemsOf({ ...env, ORDER_EXPRESS_KEYS: 'clinet', ORDER_STATUS_WAIT_MS: 'x' })).toStrictEqual([
      expect.stringMatching(/^ORDER_STATUS_WAIT_MS: /),
      expect.stringMatching(/^ORDER_EXPRESS_KEYS: "clinet" is not the id/),
    ])
  })
})
