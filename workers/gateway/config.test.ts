import { describe, expect, it } from 'vitest'
import { ConfigError } from '../../shared/config/load-config.ts'
import { loadGatewayConfig } from './config.ts'

describe('loadGatewayConfig', () => {
  it('uses the defaults for everything but the secret key', () => {
    expect(
      loadGatewayConfig({ PATH: '/usr/bin', GATEWAY_LATENCY_MS: '', GATEWAY_SECRET_KEY: 'gw_sk_1' }),
    ).toStrictEqual({
      port: 3003,
      host: '127.0.0.1',
      logLevel: 'info',
      failureRate: 0,
      slowRate: 0,
      dropRate: 0,
      errorAfterChargeRate: 0,
      latencyMs: 0,
      slowMs: 10_000,
      flakyFailures: 2,
      secretKey: 'gw_sk_1',
      maxBodyBytes: 16_384,
      shutdownTimeoutMs: 10_000,
      ledgerFile: undefined,
      rateLimitPerSecond: 100,
      rateLimitBurst: 200,
    })
  })

  it('reads every variable, port 0 included', () => {
    const env = {
      PORT: '0',
      HOST: '0.0.0.0',
      LOG_LEVEL: 'warn',
      GATEWAY_FAILURE_RATE: '0.25',
      GATEWAY_SLOW_RATE: '0.1',
      GATEWAY_DROP_RATE: '0.2',
      GATEWAY_ERROR_AFTER_CHARGE_RATE: '1',
      GATEWAY_LATENCY_MS: '40',
      GATEWAY_SLOW_MS: '1500',
      GATEWAY_FLAKY_FAILURES: '0',
      GATEWAY_SECRET_KEY: 'gw_sk_2',
      GATEWAY_MAX_BODY_BYTES: '2048',
      SHUTDOWN_TIMEOUT_MS: '2500',
      GATEWAY_LEDGER_FILE: '/var/lib/gateway/ledger.jsonl',
      RATE_LIMIT_PER_SECOND: '5',
      RATE_LIMIT_BURST: '10',
    }
    expect(loadGatewayConfig(env)).toStrictEqual({
      port: 0,
      host: '0.0.0.0',
      logLevel: 'warn',
      failureRate: 0.25,
      slowRate: 0.1,
      dropRate: 0.2,
      errorAfterChargeRate: 1,
      latencyMs: 40,
      slowMs: 1500,
      flakyFailures: 0,
      secretKey: 'gw_sk_2',
      maxBodyBytes: 2048,
      shutdownTimeoutMs: 2500,
      ledgerFile: '/var/lib/gateway/ledger.jsonl',
      rateLimitPerSecond: 5,
      rateLimitBurst: 10,
    })
  })

  it('reports every bad variable at once', () => {
    const env = {
      PORT: '70000',
      GATEWAY_FAILURE_RATE: '-0.1',
      GATEWAY_DROP_RATE: '1.5',
      GATEWAY_SLOW_MS: '30000',
      LOG_LEVEL: 'loud',
    }
    let error: unknown
    try {
      loadGatewayConfig(env)
    } catch (thrown) {
      error = thrown
    }
    expect(error).toBeInstanceOf(ConfigError)
    expect((error as ConfigError).problems).toStrictEqual([
      'PORT: must be <= 65535',
      'LOG_LEVEL: must be one of fatal, error, warn, info, debug, trace, silent',
      'GATEWAY_FAILURE_RATE: must be a number from 0 to 1',
      'GATEWAY_DROP_RATE: must be <= 1',
      'GATEWAY_SLOW_MS: must be <= 20000',
      'GATEWAY_SECRET_KEY: is required',
    ])
  })

  it('refuses a ledger path with leading or trailing spaces', () => {
    for (const path of [' ', ' /tmp/ledger.jsonl', '/tmp/ledger.jsonl\t'])
      expect(
        () => loadGatewayConfig({ GATEWAY_SECRET_KEY: 'gw_sk_2', GATEWAY_LEDGER_FILE: path }),
        path,
      ).toThrow('GATEWAY_LEDGER_FILE: must be a file path without leading or trailing spaces')
  })

  it('refuses a secret key with spaces without echoing it', () => {
    const load = () => loadGatewayConfig({ GATEWAY_SECRET_KEY: 'not a key' })
    expect(load).toThrow('GATEWAY_SECRET_KEY: must be visible ASCII characters without spaces')
    expect(load).not.toThrow(/not a key/)
  })
})
