import { PermissionViolationError, RequestError, TimeoutError } from '@nats-io/nats-core'
import { describe, expect, it } from 'vitest'
import { isNatsUnavailable, isPermissionViolation } from './errors.ts'

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
