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
   * attempts only (an address whose failures emptied its bucket gets 429
   * for keys that are not valid, so guessing keys is slow).
   */
  limiter?: RateLimiter
  /**
   * Whether `limiter` also limits each valid key's requests (default true).
   * false: failed attempts only, for a service whose one client holds the
   * key (the gateway and its payment worker).
   */
  limitKeys?: boolean
  /** What a 401 asks for: "an API key" by default; the gateway's is its secret key. */
  keyName?: string
}

/** The token of `Authorization: Bearer <token>`; undefined without one. */
export function bearerToken(header: string | undefined): string | undefined {
  const match = /^Bearer[ \t]+(\S+)[ \t]*$/i.exec(header ?? '')
  return match?.[1]
}

export function unauthorized(c: Context, keySent: boolean, keyName = 'an API key'): Response {
  c.header(
    'WWW-Authenticate',
    keySent ? `Bearer realm="${REALM}", error="invalid_token"` : `Bearer realm="${REALM}"`,
  )
  return c.json(
    {
      error: 'unauthorized',
      message: keySent ? `${theKey(keyName)} is not valid` : `send ${keyName} as Authorization: Bearer <key>`,
    },
    401,
  )
}

/** "an API key" → "the API key"; "the gateway secret key" stays. */
const theKey = (keyName: string): string => keyName.replace(/^an? /, 'the ')

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
export function requireApiKey({
  verifier,
  roles,
  limiter,
  limitKeys = true,
  keyName,
}: AuthOptions): MiddlewareHandler<AuthEnv> {
  /** A failed attempt taken from its address's bucket: the 429 once that is empty. */
  const failedAttempt = (c: Context): Response | undefined => {
    const address = clientAddress(c.req.raw)
    if (limiter === undefined || address === undefined) return undefined
    const taken = limiter.take(`address:${addressKey(address)}`)
    return taken.ok ? undefined : rateLimited(c, taken.retryAfterSeconds)
  }
  return async (c, next) => {
    // Registered for `/x` and `/x/*`, which can both match one request: check once.
    if (c.get('apiKey') !== undefined) return next()
    // Every answer of a route behind a key is for no cache, a browser's
    // included: its refusals (401, 403, 429) too. Set before the answer is
    // built, the answer is built with it.
    c.header('Cache-Control', 'no-store')
    // The key is verified first, whatever its address did before: behind a
    // NAT or proxy every client shares one address, and anybody's bad
    // requests must not turn everybody's valid keys into 429s. A valid key
    // is limited by its own bucket only.
    const token = bearerToken(c.req.header('Authorization'))
    const key = token === undefined ? null : await verifier.verify(token)
    if (key === null) {
      // Failed attempts are limited per address. The trade-off: an address
      // that used up its failures gets 429 for a wrong key but is let through
      // with a right one, so a guesser learns a guess was right; it learns it
      // by sending that key, which it then has anyway, and the bucket still
      // bounds how many guesses it makes (the burst, then the refill rate).
      // The check costs the same for any key (every digest is compared, in
      // constant time), so timing tells nothing more than the status.
      // No address (a request built in process): no per-address limit,
      // rather than one bucket everybody's failures would share.
      return failedAttempt(c) ?? unauthorized(c, token !== undefined, keyName)
    }
    // Every request of a valid key counts against its rate, those it may not make too.
    if (limiter && limitKeys) {
      const taken = limiter.take(`key:${key.id}`)
      if (!taken.ok) return rateLimited(c, taken.retryAfterSeconds)
    }
    if (!roles.includes(key.role)) {
      // Where valid keys are not limited, a key of another role is a failed attempt.
      const limited = limitKeys ? undefined : failedAttempt(c)
      return limited ?? forbidden(c, `this route needs a key with role ${roles.join(' or ')}`)
    }
    c.set('apiKey', key)
    // Set again only over a route's own (a stream's `no-cache` would still let
    // a cache keep it): after the answer is built, setting a header copies the Response.
    await next()
    if (c.res.headers.get('Cache-Control') !== 'no-store') c.header('Cache-Control', 'no-store')
  }
}
