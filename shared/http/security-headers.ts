/**
 * The browser-facing headers every answer of every service carries, whatever
 * route or error produced it: no MIME sniffing (a JSON 404 that echoes its
 * path is never read as HTML), no Referer leaving a page, no framing. Hono's
 * own middleware; the headers a route sets itself (the console page's, the
 * docs page's Content-Security-Policy) are kept. HSTS is left to whatever
 * terminates TLS in front of the services.
 */
import { secureHeaders } from 'hono/secure-headers'

export const securityHeaders = secureHeaders({
  xContentTypeOptions: true,
  referrerPolicy: true,
  xFrameOptions: 'DENY',
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
