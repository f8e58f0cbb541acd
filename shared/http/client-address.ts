/**
 * The peer address of a request, for per-client limits. The runtime adapter
 * (shared/runtime/server.ts) records it for each request it serves, since a
 * web-standard `Request` does not carry it; an edge entry records the
 * address its platform vouches for (`CF-Connecting-IP`). Requests built in
 * tests have none.
 */
const addresses = new WeakMap<Request, string>()

export function setClientAddress(request: Request, address: string | undefined): void {
  if (address !== undefined && address !== '') addresses.set(request, address)
}

export function clientAddress(request: Request): string | undefined {
  return addresses.get(request)
}

/**
 * The rate-limit key of an address: IPv4 as it is, IPv6 by its /64 prefix
 * (one host usually holds a whole /64, so per-address buckets would not slow
 * it down), an IPv4-mapped IPv6 address as its IPv4 address.
 */
export function addressKey(address: string): string {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address)
  if (mapped?.[1] !== undefined) return mapped[1]
  if (!address.includes(':')) return address
  const [head = '', tail] = address.toLowerCase().split('::')
  const left = head === '' ? [] : head.split(':')
  const right = tail === undefined || tail === '' ? [] : tail.split(':')
  const groups =
    tail === undefined
      ? left
      : [...left, ...Array<string>(Math.max(0, 8 - left.length - right.length)).fill('0'), ...right]
  return `${groups
    .slice(0, 4)
    .map((g) => g.replace(/^0+(?=.)/, ''))
    .join(':')}::/64`
}
