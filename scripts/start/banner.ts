// What npm start prints once the stack is ready.
import { relative } from 'node:path'
import type { StackContext } from './context.ts'
import { envFilePath, quote } from './run-dir.ts'

const RUNTIME_NAMES = { bun: 'Bun', node: 'Node', deno: 'Deno' } as const

/** `path` relative to the working folder when inside it. */
export function shown(path: string): string {
  const rel = relative(process.cwd(), path)
  return rel === '' || rel.startsWith('..') ? path : rel
}

/**
 * `showKeys`: the keys themselves (a terminal). Written to a file or a pipe,
 * the banner names where they are instead, so they never land in a log.
 */
export function banner(ctx: StackContext, { showKeys }: { showKeys: boolean }): string[] {
  const { nats, urls } = ctx
  const envFile = shown(envFilePath(ctx.stateDir))
  const state = shown(ctx.stateDir)
  const key = (name: string) => (showKeys ? (ctx.operatorEnv[name] ?? '') : `(in ${envFile})`)
  // A state folder of its own is found by the commands of a shell that names it (or sourced the env file).
  const custom =
    ctx.operatorEnv['ORDER_SAGA_STATE_DIR'] === undefined
      ? ''
      : `ORDER_SAGA_STATE_DIR=${/^[\w./-]+$/.test(state) ? state : quote(state)} `
  return [
    `ready (workers on ${RUNTIME_NAMES[ctx.runtime]}):`,
    `  NATS            ${nats.url}${nats.wsUrl === null ? '' : `  (WebSocket ${nats.wsUrl})`}${nats.monitorUrl === null ? '' : `  (monitoring ${nats.monitorUrl})`}`,
    `  order intake    ${urls.order}   POST /orders, GET /orders/{orderId}, POST /orders/{orderId}/cancel`,
    `  inventory       ${urls.inventory}   GET|PUT /inventory/{sku}`,
    `  payment worker  ${urls.payment}   /health /ready /metrics`,
    `  gateway sandbox ${urls.gateway}   POST /charges, GET /charges?orderId=`,
    `  analytics       ${urls.analytics}   GET /analytics/summary, /analytics/stream (admin key)`,
    `  console         ${urls.console}/console   operator console (sign in with ADMIN_API_KEY)`,
    'Development keys (kept in the state folder; API_KEY, ADMIN_API_KEY, GATEWAY_SECRET_KEY override them):',
    `  API_KEY=${key('API_KEY')}              client: POST/GET /orders`,
    `  ADMIN_API_KEY=${key('ADMIN_API_KEY')}   admin: PUT /inventory/{sku}, any order`,
    `  GATEWAY_SECRET_KEY=${key('GATEWAY_SECRET_KEY')}   the gateway sandbox's secret key`,
    'In another terminal, in this folder:',
    `  export NATS_URL=${nats.url}   # or: . ${envFile}  (NATS_URL, the keys above, an admin NATS identity; mode 0600)`,
    custom === ''
      ? '  npm run dlq -- list              # dead letters; operator commands find this stack by themselves'
      : `  ${custom}npm run dlq -- list   # dead letters; operator commands find this stack with ORDER_SAGA_STATE_DIR (the env file sets it)`,
    ...(nats.wsUrl === null
      ? []
      : ['  npm run dev:edge                 # the edge order intake (wrangler dev) on this NATS']),
    `State (streams, KV, ${envFile}) persists in ${state}: npm start -- --fresh, or ${custom}npm run reset while stopped, wipes it.`,
    'Ctrl-C stops the workers, then nats-server (a second Ctrl-C, a second or more later, kills at once).',
  ]
}
