import { PermissionViolationError, RequestError, TimeoutError } from '@nats-io/nats-core'
import { describe, expect, it } from 'vitest'
import { JetStreamApiError } from '@nats-io/jetstream'
import { isClusterForming, isNatsUnavailable, isPermissionViolation } from './errors.ts'

describe('telling a refusal from an outage', () => {
  const refused = new RequestError('Permissions Violation for Publish to "$JS.API.STREAM.INFO.DLQ"', {
    cause: new PermissionViolationError('Permissions Violation', 'publish', '$JS.API.STREAM.INFO.DLQ'),
  })

  it('a request refused for lack of permission is not an outage to wait out', () => {
    expect(isPermissionViolation(refused)).toBe(true)
    expect(isNatsUnavailable(refused)).toBe(false)
    expect(isNatsUnavailable(new Error('provisioning failed', { cause: refused }))).toBe(false)
  })

  it('a request that timed out or found no responder still is', () => {
    expect(isNatsUnavailable(new RequestError('no responders'))).toBe(true)
    expect(isNatsUnavailable(new TimeoutError())).toBe(true)
    expect(isPermissionViolation(new TimeoutError())).toBe(false)
  })
})

describe('isClusterForming', () => {
  const placement = (description: string) =>
    new JetStreamApiError({ code: 500, err_code: 10005, description })
  it('waits for peers that have not joined, not for peers without room', () => {
    expect(isClusterForming(placement('no suitable peers for placement'))).toBe(true)
    expect(isClusterForming(new Error('no suitable peers for placement'))).toBe(true)
    expect(isClusterForming(placement('no suitable peers for placement, insufficient storage'))).toBe(false)
  })
})
