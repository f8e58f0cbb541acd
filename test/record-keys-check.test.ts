// A service started with a RECORD_KEYS key its bucket's writers do not use is
// told so at start, naming the setting (the newest record is read once, as
// every read will read it), instead of only as each request's 500 later.
import { jetstream, jetstreamManager } from '@nats-io/jetstream'
import { Kvm } from '@nats-io/kv'
import { connect } from '@nats-io/transport-node'
import * as v from 'valibot'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { BUCKETS } from '../schemas/subjects.ts'
import { loadConfig } from '../shared/config/load-config.ts'
import { natsSettings } from '../shared/config/nats-settings.ts'
import { openBucket, startNatsRuntime } from '../shared/nats/runtime.ts'
import { createLogger } from '../shared/observability/logger.ts'
import { createMetrics } from '../shared/observability/metrics.ts'
import { deriveRecordKey, sealBucket, sealFloorOf } from '../shared/security/record-seal.ts'
import { startNatsServer, type NatsServerHandle } from './harness/nats-server.ts'
import { authAs, testSecrets } from './harness/test-secrets.ts'
import { provisionNats } from './support/provision.ts'

let server: NatsServerHandle

beforeAll(async () => {
  server = await startNatsServer({ websocket: false })
  await provisionNats([server.url])
}, 60_000)
afterAll(async () => {
  await server?.stop()
})

const recordKey = (bucket: string, secret = testSecrets().recordSealSecret) => deriveRecordKey(secret, bucket)

/** Opens the stock bucket as the inventory service would with `key`; the error lines it logged. */
async function openStockWith(key: Uint8Array): Promise<Record<string, unknown>[]> {
  const lines: Record<string, unknown>[] = []
  const logger = createLogger({
    service: 'inventory',
    level: 'warn',
    destination: { write: (line: string) => void lines.push(JSON.parse(line) as Record<string, unknown>) },
  })
  const config = loadConfig(v.object(natsSettings), {
    NATS_URL: server.url,
    NATS_CONNECT_TIMEOUT_MS: '5000',
    NATS_NKEY_SEED: testSecrets().nats.inventory.seed,
  })
  const rt = await startNatsRuntime(
    'inventory',
    { ...config, RECORD_KEYS: new Map([[BUCKETS.stock, key]]) },
    { connect, logger, metrics: createMetrics('inventory') },
  )
  try {
    await openBucket(rt, BUCKETS.stock)
  } finally {
    await rt.nc.close()
  }
  return lines.filter((l) => l['level'] === 'error')
}

describe('RECORD_KEYS checked against the newest record at start', () => {
  it('says nothing with the right key, and names RECORD_KEYS with a wrong one', async () => {
    const nc = await connect({ servers: server.url, ...authAs('inventory') })
    try {
      const kv = await new Kvm(nc).open(BUCKETS.stock, { allow_direct: false })
      const info = await (await jetstreamManager(nc)).streams.info(`KV_${BUCKETS.stock}`)
      const sealed = sealBucket(kv, {
        bucket: BUCKETS.stock,
        key: await recordKey(BUCKETS.stock),
        floor: sealFloorOf(info.config.metadata),
      })
      await sealed.put('CHECK-1', new TextEncoder().encode('{"onHand":1,"priceCents":100}'))
    } finally {
      await nc.close()
    }
    expect(await openStockWith(await recordKey(BUCKETS.stock))).toStrictEqual([])

    const wrong = await openStockWith(await recordKey(BUCKETS.stock, 'another-deployment-secret'))
    expect(wrong).toHaveLength(1)
    expect(wrong[0]?.['msg']).toMatch(
      /^RECORD_KEYS: this service's key for inventory-stock does not open the bucket's newest record/,
    )
    expect(wrong[0]?.['bucket']).toBe(BUCKETS.stock)
  })

  it('says the newest record was not written with the key when one was stored without it, and still starts', async () => {
    const nc = await connect({ servers: server.url, ...authAs('inventory') })
    try {
      await jetstream(nc).publish(`$KV.${BUCKETS.stock}.CHECK-2`, '{"onHand":9,"priceCents":1}')
    } finally {
      await nc.close()
    }
    const lines = await openStockWith(await recordKey(BUCKETS.stock))
    expect(lines).toHaveLength(1)
    expect(lines[0]?.['msg']).toMatch(
      /^the newest record of inventory-stock was not written by a service holding/,
    )
  })
})
