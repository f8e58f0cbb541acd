import { describe, expect, it } from 'vitest'
import { BUCKETS } from '../../schemas/subjects.ts'
import { ConfigError } from '../config/load-config.ts'
import { toBase64Url } from './base64url.ts'
import { generateDeploymentSecrets, sealedBucketsOf, serviceSecrets } from './deployment-secrets.ts'
import {
  deriveRecordKey,
  parseRecordKeys,
  recordKeysText,
  sealFloorOf,
  sealOf,
  SEAL_FLOOR_METADATA,
} from './record-seal.ts'

const key = toBase64Url(new Uint8Array(32).fill(7))

describe('RECORD_KEYS', () => {
  it('reads <bucket>:<key> entries, comma or newline separated', () => {
    const keys = parseRecordKeys(`${BUCKETS.stock}:${key},\n${BUCKETS.decisions}:${key}\n`)
    expect([...keys.keys()]).toStrictEqual([BUCKETS.stock, BUCKETS.decisions])
    expect(keys.get(BUCKETS.stock)).toHaveLength(32)
  })

  it('names every problem by its bucket and never repeats a key', () => {
    const short = toBase64Url(new Uint8Array(16).fill(9))
    const text = `${BUCKETS.stock}:${short},${BUCKETS.decisions}:not*base64,nobucket:${key},${BUCKETS.orderStatus}:${key},${BUCKETS.orderStatus}:${key},ORDERS:${key}`
    let error: unknown
    try {
      parseRecordKeys(text)
    } catch (caught) {
      error = caught
    }
    expect(error).toBeInstanceOf(ConfigError)
    const problems = (error as ConfigError).problems
    expect(problems).toStrictEqual([
      `RECORD_KEYS: the key of ${BUCKETS.stock} is under 32 bytes`,
      `RECORD_KEYS: the key of ${BUCKETS.decisions} is not base64url`,
      expect.stringMatching(/^RECORD_KEYS: entry 3 must be <bucket>:<key>/),
      `RECORD_KEYS: ${BUCKETS.orderStatus} is given twice`,
      expect.stringMatching(/^RECORD_KEYS: entry 6 must be <bucket>:<key>/),
    ])
    for (const problem of problems) expect(problem).not.toContain(key)
    for (const problem of problems) expect(problem).not.toContain(short)
  })
})

describe('record seals', () => {
  it('differ by bucket, key and bytes, and between record keys', async () => {
    const k1 = await deriveRecordKey('master', BUCKETS.stock)
    const k2 = await deriveRecordKey('master', BUCKETS.decisions)
    const data = new TextEncoder().encode('{"onHand":1}')
    const seal = await sealOf(k1, BUCKETS.stock, 'SKU-1', data)
    expect(seal).toMatch(/^[A-Za-z0-9_-]{22}$/)
    expect(await sealOf(k1, BUCKETS.stock, 'SKU-1', data)).toBe(seal)
    expect(
      new Set([
        seal,
        await sealOf(k2, BUCKETS.stock, 'SKU-1', data),
        await sealOf(k1, BUCKETS.decisions, 'SKU-1', data),
        await sealOf(k1, BUCKETS.stock, 'SKU-2', data),
        await sealOf(k1, BUCKETS.stock, 'SKU-1', new TextEncoder().encode('{"onHand":2}')),
      ]).size,
    ).toBe(5)
  })

  it('take their floor from the stream metadata, 0 when absent or unreadable', () => {
    expect(sealFloorOf(undefined)).toBe(0)
    expect(sealFloorOf({ [SEAL_FLOOR_METADATA]: '42' })).toBe(42)
    expect(sealFloorOf({ [SEAL_FLOOR_METADATA]: 'x' })).toBe(0)
    expect(sealFloorOf({ [SEAL_FLOOR_METADATA]: '-3' })).toBe(0)
  })
})

describe('who holds which record key', () => {
  it('gives each service the keys of the sealed buckets it reads or writes (analytics its own two), and the console none', async () => {
    expect(sealedBucketsOf('inventory').sort()).toStrictEqual(
      [BUCKETS.decisions, BUCKETS.reservations, BUCKETS.stock].sort(),
    )
    expect(sealedBucketsOf('payment').sort()).toStrictEqual(
      [BUCKETS.decisions, BUCKETS.reconciliation].sort(),
    )
    expect(sealedBucketsOf('order').sort()).toStrictEqual([BUCKETS.idempotency, BUCKETS.orderStatus].sort())
    expect(sealedBucketsOf('order-status')).toStrictEqual([BUCKETS.orderStatus])
    expect(sealedBucketsOf('analytics').sort()).toStrictEqual(
      [BUCKETS.analyticsOrders, BUCKETS.analyticsWindows].sort(),
    )
    for (const holder of ['console', 'gateway', 'admin'] as const)
      expect(sealedBucketsOf(holder)).toStrictEqual([])
    const secrets = await generateDeploymentSecrets()
    const inventory = await serviceSecrets('inventory', secrets)
    expect(parseRecordKeys(inventory['RECORD_KEYS'] ?? '').get(BUCKETS.stock)).toStrictEqual(
      await deriveRecordKey(secrets.recordSealSecret, BUCKETS.stock),
    )
    expect(inventory['RECORD_KEYS']).toBe(
      await recordKeysText(secrets.recordSealSecret, sealedBucketsOf('inventory')),
    )
    expect((await serviceSecrets('console', secrets))['RECORD_KEYS']).toBeUndefined()
  })
})
