/**
 * The browser-facing headers every answer of every service carries, whatever
 * route or error produced it: no MIME sniffing (a JSON 404 that echoes its
 * path is never read as HTML), no Referer leaving a page, no framing. Hono's
 * own middleware; the headers a route sets itself (the console page's, the
 * docs page's Content-Security-Policy) are kept. HSTS is left to whatever
 * terminates TLS in front of the services.
 */
import { secureHeaders } from 'hono/secure-headers'

/** The headers themselves, for the answers made outside a Hono app (a bad Host, start-up, the edge's misconfiguration). */
export const SECURITY_HEADERS = {
  'X-Content-Type-Options': 'nosniff',
  'Referrer-Policy': 'no-referrer',
  'X-Frame-Options': 'DENY',
} as const

export const securityHeaders = secureHeaders({
  xContentTypeOptions: SECURITY_HEADERS['X-Content-Type-Options'],
  referrerPolicy: SECURITY_HEADERS['Referrer-Policy'],
  xFrameOptions: SECURITY_HEADERS['X-Frame-Options'],
  crossOriginResourcePolicy: false,
  crossOriginOpenerPolicy: false,
  originAgentCluster: false,
  strictTransportSecurity: false,
  xDnsPrefetchControl: false,
  xDownloadOptions: false,
  xPermittedCrossDomainPolicies: false,
  xXssProtection: false,
  removePoweredBy: false,
  overwrite: false,
})
