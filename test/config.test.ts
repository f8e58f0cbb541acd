import { describe, expect, it } from 'vitest'
import { loadAnalyticsConfig } from '../workers/analytics/config.ts'
import { loadInventoryConfig } from '../workers/inventory/config.ts'
import { loadOrderConfig } from '../workers/order/config.ts'
import { loadPaymentConfig } from '../workers/payment/config.ts'
import { ConfigError } from '../shared/config/load-config.ts'
import { testSecrets, workerSecrets } from './harness/test-secrets.ts'

describe('loadConfig', () => {
  it('applies the documented defaults', async () => {
    const config = loadOrderConfig(await workerSecrets('order'))
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
    expect(loadInventoryConfig(await workerSecrets('inventory')).PORT).toBe(3001)
    expect(loadPaymentConfig(await workerSecrets('payment')).PORT).toBe(3002)
  })

  it("refuses an analytics stream heartbeat the HTTP server's 30 s idle timeout would beat", async () => {
    const given = await workerSecrets('analytics')
    expect(
      loadAnalyticsConfig({ ...given, ANALYTICS_STREAM_HEARTBEAT_MS: '25000' }).ANALYTICS_STREAM_HEARTBEAT_MS,
    ).toBe(25_000)
    expect(() => loadAnalyticsConfig({ ...given, ANALYTICS_STREAM_HEARTBEAT_MS: '60000' })).toThrow(
      /ANALYTICS_STREAM_HEARTBEAT_MS/,
    )
  })

  it("keeps a base URL's path and refuses one with a query or fragment (payment's gateway, the console's services)", async () => {
    const given = await workerSecrets('payment')
    expect(
      loadPaymentConfig({ ...given, PAYMENT_GATEWAY_URL: 'https://psp.example/v1/' }).PAYMENT_GATEWAY_URL,
    ).toBe('https://psp.example/v1')
    for (const url of ['https://psp.example/v1?x=1', 'https://psp.example/#f'])
      expect(() => loadPaymentConfig({ ...given, PAYMENT_GATEWAY_URL: url })).toThrow(
        /PAYMENT_GATEWAY_URL: must have no query or fragment/,
      )
  })

  it('requires each secret setting by name, without quoting any value', async () => {
    const given = await workerSecrets('payment')
    let caught: unknown
    try {
      loadPaymentConfig({ ...given, PAYMENT_TOKEN_PRIVATE_KEYS: '{"kty":"RSA","d":"secret-material"}' })
    } catch (error) {
      caught = error
    }
    expect(caught).toBeInstanceOf(ConfigError)
    expect((caught as ConfigError).message).toContain('PAYMENT_TOKEN_PRIVATE_KEYS')
    expect((caught as ConfigError).message).not.toContain('secret-material')
    expect(() => loadOrderConfig({})).toThrow(/PAYMENT_TOKEN_PUBLIC_KEY/)
  })

  it('refuses a private key or a list as the intake public key, without quoting it', async () => {
    const given = await workerSecrets('order')
    const { privateJwk } = testSecrets().sealing
    const attempt = (value: string) => () => loadOrderConfig({ ...given, PAYMENT_TOKEN_PUBLIC_KEY: value })
    expect(attempt(JSON.stringify(privateJwk))).toThrow(/PAYMENT_TOKEN_PUBLIC_KEY: is a private key/)
    expect(attempt(JSON.stringify(privateJwk))).not.toThrow(String(privateJwk.d))
    const pub = given['PAYMENT_TOKEN_PUBLIC_KEY'] ?? ''
    expect(attempt(`[${pub},${pub}]`)).toThrow(/must be one public JWK/)
  })

  it('reads several servers and treats empty values as unset', async () => {
    const config = loadOrderConfig({
      ...(await workerSecrets('order')),
      NATS_URL: 'nats://a:4222, nats://b:4222,tls://c:4222',
      PORT: '',
    })
    expect(config.NATS_URL).toStrictEqual(['nats://a:4222', 'nats://b:4222', 'tls://c:4222'])
    expect(config.PORT).toBe(3000)
  })

  it('refuses a NATS_URL whose port is out of range, its password not shown', async () => {
    const secrets = await workerSecrets('order')
    const attempt = (url: string) => () => loadOrderConfig({ ...secrets, NATS_URL: `nats://a:4222,${url}` })
    expect(attempt('nats://user:hunter2@b:99999')).toThrow(
      'NATS_URL.1: nats://***@b:99999: needs a host, and a port (if given) of 1-65535',
    )
    expect(attempt('nats://user:hunter2@b:99999')).not.toThrow(/hunter2/)
    expect(attempt('tls://b:0')).toThrow(/NATS_URL.1: tls:\/\/b:0: needs a host/)
    expect(attempt('nats://:4222')).toThrow(/NATS_URL.1: nats:\/\/:4222: needs a host/)
    expect(loadOrderConfig({ ...secrets, NATS_URL: 'ws://[::1]:65535' }).NATS_URL).toStrictEqual([
      'ws://[::1]:65535',
    ])
  })

  it('refuses a first retry delay above the largest, with the other problems', async () => {
    let caught: unknown
    try {
      loadPaymentConfig({
        ...(await workerSecrets('payment')),
        PAYMENT_RETRY_INITIAL_DELAY_MS: '5000',
        PAYMENT_RETRY_MAX_DELAY_MS: '1000',
        LOG_LEVEL: 'loud',
      })
    } catch (error) {
      caught = error
    }
    expect((caught as ConfigError).problems).toStrictEqual([
      'LOG_LEVEL: must be one of fatal, error, warn, info, debug, trace, silent',
      'PAYMENT_RETRY_INITIAL_DELAY_MS: must be <= PAYMENT_RETRY_MAX_DELAY_MS',
    ])
    const equal = loadPaymentConfig({
      ...(await workerSecrets('payment')),
      PAYMENT_RETRY_INITIAL_DELAY_MS: '1000',
      PAYMENT_RETRY_MAX_DELAY_MS: '1000',
    })
    expect(equal.PAYMENT_RETRY_INITIAL_DELAY_MS).toBe(1000)
  })

  it('refuses a settle budget shorter than one attempt', async () => {
    const secrets = await workerSecrets('payment')
    expect(() =>
      loadPaymentConfig({ ...secrets, PAYMENT_SETTLE_BUDGET_MS: '100', PAYMENT_TIMEOUT_MS: '5000' }),
    ).toThrow(/PAYMENT_SETTLE_BUDGET_MS: must be >= PAYMENT_TIMEOUT_MS/)
    const equal = loadPaymentConfig({
      ...secrets,
      PAYMENT_SETTLE_BUDGET_MS: '5000',
      PAYMENT_TIMEOUT_MS: '5000',
    })
    expect(equal.PAYMENT_SETTLE_BUDGET_MS).toBe(5000)
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
