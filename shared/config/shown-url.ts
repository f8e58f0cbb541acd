/**
 * A URL as logs, metrics and error messages show it: whatever comes before
 * its last `@` (after the scheme) becomes `***`, so a user or password is
 * hidden even in a URL that does not parse (`nats://user:pa/ss@host`,
 * `user:pass@host`).
 */
export function shownUrl(url: string): string {
  const at = url.lastIndexOf('@')
  if (at < 0) return url
  const scheme = /^[a-z][a-z0-9+.-]*:\/\//i.exec(url)?.[0] ?? ''
  return `${scheme}***${url.slice(at)}`
}
