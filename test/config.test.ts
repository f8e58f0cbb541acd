import { describe, expect, it } from 'vitest'
import { loadInventoryConfig } from '../workers/inventory/config.ts'
import { loadOrderConfig } from '../workers/order/config.ts'
import { loadPaymentConfig } from '../workers/payment/config.ts'
import { ConfigError } from '../shared/config/load-config.ts'

describe('loadConfig', () => {
  it('applies the documented defaults', () => {
    const config = loadOrderConfig({})
    expect(config).toMatchObject({
      PORT: 3000,
      HOST: '127.0.0.1',
      LOG_LEVEL: 'info',
      NATS_URL: ['nats://127.0.0.1:4222'],
      NATS_CONNECT_TIMEOUT_MS: 300_000,
      NATS_REQUEST_TIMEOUT_MS: 2_000,
      NATS_REPLICAS: 1,
      CONSUMER_ACK_WAIT_MS: 30_000,
      CONSUMER_MAX_DELIVER: 5,
      ORDER_MAX_BODY_BYTES: 65_536,
      SHUTDOWN_TIMEOUT_MS: 10_000,
    })
    expect(loadInventoryConfig({}).PORT).toBe(3001)
    expect(loadPaymentConfig({}).PORT).toBe(3002)
  })

  it('reads several servers and treats empty values as unset', () => {
    const config = loadOrderConfig({ NATS_URL: 'nats://a:4222, nats://b:4222,tls://c:4222', PORT: '' })
    expect(config.NATS_URL).toStrictEqual(['nats://a:4222', 'nats://b:4222', 'tls://c:4222'])
    expect(config.PORT).toBe(3000)
  })

  it('reports every problem at once', () => {
    let caught: unknown
    try {
      loadPaymentConfig({
        PORT: 'abc',
        NATS_URL: 'http://x',
        LOG_LEVEL: 'loud',
        PAYMENT_RETRIES: '-1',
        PAYMENT_GATEWAY_URL: 'nope',
      })
    } catch (error) {
      caught = error
    }
    expect(caught).toBeInstanceOf(ConfigError)
    const keys = (caught as ConfigError).problems.map((p) => p.split(':')[0])
    expect(keys).toStrictEqual(
      expect.arrayContaining(['PORT', 'NATS_URL.0', 'LOG_LEVEL', 'PAYMENT_RETRIES', 'PAYMENT_GATEWAY_URL']),
    )
  })
})
