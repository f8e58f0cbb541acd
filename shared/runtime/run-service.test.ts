import { PermissionViolationError, RequestError, TimeoutError } from '@nats-io/nats-core'
import * as v from 'valibot'
import { describe, expect, it } from 'vitest'
import { ConfigError } from '../config/load-config.ts'
import { NotProvisionedError } from '../nats/topology.ts'
import { helpText, startupFailureLine } from './run-service.ts'

describe('--help text', () => {
  it('tells required, optional and defaulted settings apart, and names the _FILE form of secrets', () => {
    const text = helpText({
      name: 'demo',
      description: 'a service',
      schema: v.object({
        API_KEYS: v.string(),
        NATS_NKEY_SEED: v.optional(v.string()),
        NATS_TLS_CA_FILE: v.optional(v.string()),
        PORT: v.optional(v.number(), 3000),
      }),
    })
    const line = (name: string) =>
      text
        .split('\n')
        .find((l) => l.trimStart().startsWith(`${name} `))
        ?.trim()
    expect(line('API_KEYS')).toMatch(/^API_KEYS +\(required\), or API_KEYS_FILE \(a path\)$/)
    expect(line('NATS_NKEY_SEED')).toMatch(
      /^NATS_NKEY_SEED +\(optional\), or NATS_NKEY_SEED_FILE \(a path\)$/,
    )
    expect(line('NATS_TLS_CA_FILE')).toMatch(/^NATS_TLS_CA_FILE +\(optional\)$/)
    expect(line('PORT')).toMatch(/^PORT +default 3000$/)
    expect(text).toContain('OTEL_EXPORTER_OTLP_ENDPOINT')
  })
})

describe('a start that fails', () => {
  it("says an operator's fault in one line with the settings to check, and leaves a bug to its stack", () => {
    const refused = new PermissionViolationError(
      'Permissions Violation for Publish to "$JS.API.STREAM.INFO.KV_order-decisions"',
      'publish',
      '$JS.API.STREAM.INFO.KV_order-decisions',
    )
    // nats.js wraps the violation in the request's error.
    const line = startupFailureLine(new RequestError(refused.message, { cause: refused }))
    expect(line).toMatch(
      /^nats-server refused this identity a publish to \$JS\.API\.STREAM\.INFO\.KV_order-decisions: /,
    )
    expect(line).toContain('NATS_NKEY_SEED')
    expect(line).not.toContain('\n')
    expect(
      startupFailureLine(new NotProvisionedError('stream ORDERS does not exist: run the provision step')),
    ).toBe('stream ORDERS does not exist: run the provision step')
    expect(startupFailureLine(new ConfigError(['RECORD_KEYS has no key for the bucket order-status']))).toBe(
      'invalid configuration:\n  - RECORD_KEYS has no key for the bucket order-status',
    )
    expect(startupFailureLine(new TimeoutError())).toMatch(/NATS_REQUEST_TIMEOUT_MS.*NATS_URL/)
    expect(startupFailureLine(new TypeError('x is undefined'))).toBeUndefined()
  })
})
