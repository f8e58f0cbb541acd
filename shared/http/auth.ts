/**
 * `Authorization: Bearer <key>` for every service: the key is checked against
 * configured digests (api-keys.ts), the role against the route's roles, and,
 * where a limiter is given, the key's rate and the client address's rate of
 * failed attempts (rate-limit.ts).
 */
import type { Context, MiddlewareHandler } from 'hono'
import type { ApiKey, ApiKeyRole, ApiKeyVerifier } from './api-keys.ts'
import { addressKey, clientAddress } from './client-address.ts'
import type { RateLimiter } from './rate-limit.ts'

export const REALM = 'order-saga'

export type AuthEnv = { Variables: { apiKey: ApiKey } }

export interface AuthOptions {
  verifier: ApiKeyVerifier
  /** Roles allowed on the route; another valid key gets 403. */
  roles: readonly ApiKeyRole[]
  /**
   * Per key id after a key is accepted; per client address for failed
   * attempts (a client whose failures emptied its bucket gets 429 before
   * its key is even looked at, so guessing keys is slow and a right guess
   * looks like a wrong one).
   */
  limiter?: RateLimiter
}

/** The token of `Authorization: Bearer <token>`; undefined without one. */
export function bearerToken(header: string | undefined): string | undefined {
  const match = /^Bearer[ \t]+(\S+)[ \t]*$/i.exec(header ?? '')
  return match?.[1]
}

export function unauthorized(c: Context, keySent: boolean): Response {
  c.header(
    'WWW-Authenticate',
    keySent ? `Bearer realm="${REALM}", error="invalid_token"` : `Bearer realm="${REALM}"`,
  )
  return c.json(
    {
      error: 'unauthorized',
      message: keySent ? 'the API key is not valid' : 'send an API key as Authorization: Bearer <key>',
    },
    401,
  )
}

export function forbidden(c: Context, message: string): Response {
  return c.json({ error: 'forbidden', message }, 403)
}

export function rateLimited(c: Context, retryAfterSeconds: number): Response {
  c.header('Retry-After', String(retryAfterSeconds))
  return c.json({ error: 'rate_limited', message: `too many requests; retry in ${retryAfterSeconds} s` }, 429)
}

/** True once `requireApiKey` accepted the request's key (a route that wants none never has one). */
export function hasApiKey(c: Context<AuthEnv>): boolean {
  return c.get('apiKey') !== undefined
}

/** Accepts a request with a valid key of an allowed role; sets `apiKey`. */
export function requireApiKey({ verifier, roles, limiter }: AuthOptions): MiddlewareHandler<AuthEnv> {
  return async (c, next) => {
    // Registered for `/x` and `/x/*`, which can both match one request: check once.
    if (c.get('apiKey') !== undefined) return next()
    // No address (a request built in process): no per-address limit, rather
    // than one bucket everybody's failures would share.
    const address = clientAddress(c.req.raw)
    const failures = address === undefined ? undefined : `address:${addressKey(address)}`
    if (limiter && failures !== undefined) {
      const blocked = limiter.check(failures)
      if (!blocked.ok) return rateLimited(c, blocked.retryAfterSeconds)
    }
    const header = c.req.header('Authorization')
    const token = bearerToken(header)
    const key = token === undefined ? null : await verifier.verify(token)
    if (key === null) {
      if (failures !== undefined) limiter?.take(failures)
      return unauthorized(c, token !== undefined)
    }
    if (!roles.includes(key.role))
      return forbidden(c, `this route needs a key with role ${roles.join(' or ')}`)
    if (limiter) {
      const taken = limiter.take(`key:${key.id}`)
      if (!taken.ok) return rateLimited(c, taken.retryAfterSeconds)
    }
    c.set('apiKey', key)
    await next()
  }
}
