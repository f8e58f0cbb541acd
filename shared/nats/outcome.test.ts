import { JetStreamApiError } from '@nats-io/jetstream'
import {
  ClosedConnectionError,
  NoRespondersError,
  PermissionViolationError,
  TimeoutError,
} from '@nats-io/nats-core'
import { describe, expect, it } from 'vitest'
import { isOutcomeUnknown } from './outcome.ts'

describe('isOutcomeUnknown', () => {
  it.each([
    ['a timeout', new TimeoutError()],
    ['the connection closed', new ClosedConnectionError()],
    ['a wrapped timeout', new Error('publish failed', { cause: new TimeoutError() })],
  ])('is true for %s: the request may have been stored', (_what, error) => {
    expect(isOutcomeUnknown(error)).toBe(true)
  })

  it.each([
    ['no responders (no stream took it)', new NoRespondersError('orders.created')],
    [
      'a JetStream API error',
      new JetStreamApiError({ code: 400, err_code: 10071, description: 'wrong last sequence' }),
    ],
    [
      'a permission violation',
      new PermissionViolationError(
        'Permissions Violation for Publish to "orders.created"',
        'publish',
        'orders.created',
      ),
    ],
    ['anything else', new Error('boom')],
  ])('is false for %s: nothing was stored', (_what, error) => {
    expect(isOutcomeUnknown(error)).toBe(false)
  })
})
