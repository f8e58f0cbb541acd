/**
 * The order service on Deno 2: `deno task order` (deno.json), or Deno Deploy
 * with ORDER_PROJECTION=off. Same service as `main.ts`; NATS over TCP
 * (`nats://`, `tls://`: the Node transport through Deno's Node APIs) or over
 * WebSocket (`ws://`, `wss://`: Deno's own WebSocket).
 */
import { ConfigError } from '../../shared/config/load-config.ts'
import { shownUrl } from '../../shared/config/shown-url.ts'
import { wsconnect } from '@nats-io/nats-core'
import { connect } from '@nats-io/transport-node'
import type { ConnectFn } from '../../shared/nats/connect.ts'
import { main } from '../../shared/runtime/run-service.ts'
import { orderEntry } from './entry.ts'
import { startOrderService } from './service.ts'

declare const Deno: { args: string[]; env: { toObject(): Record<string, string> } }

/** WebSocket when every URL is ws:// or wss://, TCP when none is; a mix is a configuration error. */
export function chooseTransport(urls: readonly string[]): ConnectFn {
  const ws = urls.filter((u) => /^wss?:\/\//i.test(u))
  if (ws.length === urls.length) return wsconnect
  if (ws.length === 0) return connect
  throw new ConfigError([
    `NATS_URL: mixes WebSocket and TCP servers (${urls.map(shownUrl).join(', ')}); give ws:// or wss:// URLs only, or nats:// or tls:// only`,
  ])
}

main(
  {
    ...orderEntry,
    start: (config, deps) =>
      startOrderService(config, { ...deps, connect: chooseTransport(config.NATS_URL) }),
  },
  Deno.args,
  Deno.env.toObject(),
)
