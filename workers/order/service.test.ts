// The order service's start-up order: settings that cannot work stop it before it connects.
import { describe, expect, it, vi } from 'vitest'
import type { NatsConnection } from '@nats-io/nats-core'
import { createLogger } from '../../shared/observability/logger.ts'
import { createMetrics } from '../../shared/observability/metrics.ts'
import { workerSecrets } from '../../test/harness/test-secrets.ts'
import { loadOrderConfig } from './config.ts'
import { startOrderService } from './service.ts'

describe('startOrderService', () => {
  it('refuses a public key that does not import before it connects to NATS', async () => {
    const config = loadOrderConfig({
      ...(await workerSecrets('order')),
      NATS_URL: 'nats://127.0.0.1:4222',
      LOG_LEVEL: 'silent',
      // A JWK of the right shape whose coordinates are no point of P-256.
      PAYMENT_TOKEN_PUBLIC_KEY: JSON.stringify({ kty: 'EC', crv: 'P-256', x: 'AAAA', y: 'AAAA' }),
    })
    const connect = vi.fn((): Promise<NatsConnection> =>
      Promise.reject(new Error('connect must not be called')),
    )
    await expect(
      startOrderService(config, {
        connect,
        logger: createLogger({ service: 'order', level: 'silent' }),
        metrics: createMetrics('order'),
      }),
    ).rejects.toThrow('PAYMENT_TOKEN_PUBLIC_KEY cannot be imported as a P-256 ECDH key')
    expect(connect).not.toHaveBeenCalled()
  })
})
