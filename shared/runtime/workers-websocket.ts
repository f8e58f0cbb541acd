/**
 * NATS over WebSocket from a Cloudflare Worker, the documented way: `fetch`
 * the server's http(s) URL with `Upgrade: websocket`, then accept the
 * `webSocket` of the 101 response. Plugs into `wsconnect` as its `wsFactory`.
 * No `open` event follows `accept()`; the client waits for the server's INFO.
 */
import type { WsSocketFactory } from '@nats-io/nats-core'

/** The Workers additions to `Response` and `WebSocket` (not in the DOM lib). */
type UpgradeResponse = Response & { webSocket?: (WebSocket & { accept(): void }) | null }

export class WebSocketUpgradeError extends Error {
  override readonly name = 'WebSocketUpgradeError'
}

/** `ws://host:port/path` -> `http://host:port/path` (`fetch` refuses ws:// URLs). */
export function toHttpUrl(wsUrl: string): string {
  return wsUrl.replace(/^ws(s?):\/\//i, (_match, secure: string) => `http${secure.toLowerCase()}://`)
}

export function createWorkersWsFactory(fetcher: typeof fetch = fetch): WsSocketFactory {
  return async (url) => {
    const target = toHttpUrl(url)
    const response = (await fetcher(target, { headers: { Upgrade: 'websocket' } })) as UpgradeResponse
    const socket = response.webSocket
    if (response.status !== 101 || socket === undefined || socket === null) {
      await response.body?.cancel()
      throw new WebSocketUpgradeError(`${target} did not upgrade to a WebSocket (HTTP ${response.status})`)
    }
    socket.accept()
    return { socket, encrypted: target.startsWith('https:') }
  }
}
