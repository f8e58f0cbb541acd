import { JetStreamApiError } from '@nats-io/jetstream'
import {
  AuthorizationError,
  ClosedConnectionError,
  ConnectionError,
  PermissionViolationError,
  DrainingConnectionError,
  NoRespondersError,
  RequestError,
  TimeoutError,
} from '@nats-io/nats-core'

const TRANSIENT_MESSAGE =
  /no responders|jetstream is not enabled|temporarily unavailable|timeout|timed out|disconnect|connection closed/i

/** The error and its `cause` chain (bounded), for classifying wrapped errors. */
function* causeChain(error: unknown): Generator<Error> {
  for (
    let current: unknown = error, depth = 0;
    current instanceof Error && depth < 8;
    current = current.cause, depth++
  ) {
    yield current
  }
}

/**
 * True when an error (or any error in its `cause` chain) says NATS itself is
 * briefly unable to answer: disconnected, a stream or KV leader being elected
 * after a node died ("no responders", "jetstream is not enabled"), a request
 * timing out. Such a failure says nothing about the message, so it must not
 * spend the message's deliveries.
 */
export function isNatsUnavailable(error: unknown): boolean {
  // Refused for lack of permission: waiting cannot help (a misconfigured identity).
  if (isPermissionViolation(error)) return false
  for (const current of causeChain(error)) {
    if (
      current instanceof TimeoutError ||
      current instanceof NoRespondersError ||
      current instanceof RequestError ||
      current instanceof ClosedConnectionError ||
      current instanceof ConnectionError ||
      current instanceof DrainingConnectionError
    ) {
      return true
    }
    if (current instanceof JetStreamApiError && (current.status === 503 || current.code === 10008))
      return true
    if (current.name === 'JetStreamNotEnabled' || TRANSIENT_MESSAGE.test(current.message)) return true
  }
  return false
}

/**
 * True while a cluster cannot place a replicated stream yet ("no suitable
 * peers for placement": a node has not joined the JetStream meta group).
 * Worth retrying while provisioning; a service should wait, not crash-loop.
 * Not when the peers lack the storage ("..., insufficient storage"): waiting
 * does not make room.
 */
export function isClusterForming(error: unknown): boolean {
  for (const current of causeChain(error)) {
    if (/insufficient/i.test(current.message)) return false
    if (current instanceof JetStreamApiError && current.code === 10005) return true
    if (/no suitable peers/i.test(current.message)) return true
  }
  return false
}

/** True when the server refused this client's credentials: retrying with the same ones cannot help. */
export function isAuthorizationError(error: unknown): boolean {
  for (const current of causeChain(error)) {
    if (current instanceof AuthorizationError || /authorization violation/i.test(current.message)) return true
  }
  return false
}

/** True when the server refused the request for lack of permission (the access table does not grant it). */
export function isPermissionViolation(error: unknown): boolean {
  for (const current of causeChain(error)) {
    if (current instanceof PermissionViolationError || /permissions violation/i.test(current.message))
      return true
  }
  return false
}
