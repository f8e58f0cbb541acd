// `npm start`: an embedded nats-server (unless NATS_URL is set), the payment
// gateway sandbox and the three workers with `bun run`, a seeded demo catalog,
// and a clean stop on Ctrl-C.
import { spawn, type ChildProcess } from 'node:child_process'
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { NatsServerNotFoundError, projectRoot, resolveNatsServer } from './nats-server-bin.ts'
import { RUNTIMES, workerCommand, type Runtime } from './runtime-commands.ts'

const env = process.env
const root = projectRoot
const bun = process.execPath.includes('bun') ? process.execPath : join(root, 'node_modules', '.bin', 'bun')
const children: { name: string; child: ChildProcess }[] = []
let stopping = false

function log(message: string): void {
  process.stderr.write(`[start] ${message}\n`)
}

/** A port from the environment, or the fallback (-1 = a free port, nats-server only). */
function port(name: string, fallback: number): string {
  const value = env[name]
  if (value === undefined || value === '') return String(fallback)
  if (!/^\d+$/.test(value) || Number(value) > 65535) {
    log(`${name} must be a port number, got ${JSON.stringify(value)}`)
    process.exit(1)
  }
  return value
}

async function resolveServer(): Promise<string> {
  try {
    return (await resolveNatsServer()).bin
  } catch (error) {
    if (!(error instanceof NatsServerNotFoundError)) throw error
    log('no suitable nats-server found; trying scripts/fetch-nats-server.sh (apt)')
    const fetched = spawn('bash', [join(root, 'scripts', 'fetch-nats-server.sh')], { stdio: 'inherit' })
    const code = await new Promise<number | null>((done) => fetched.on('exit', done))
    if (code !== 0) {
      log(error.message)
      process.exit(1)
    }
    return (await resolveNatsServer()).bin
  }
}

/** Starts nats-server, resolves with its client and WebSocket URLs once ready (10 s deadline). */
async function startNats(): Promise<{ url: string; wsUrl: string }> {
  const bin = await resolveServer()
  const dir = join(root, '.local', 'run')
  mkdirSync(join(dir, 'jetstream'), { recursive: true })
  const configFile = join(dir, 'nats-server.conf')
  writeFileSync(
    configFile,
    [
      'server_name: "local"',
      `listen: "127.0.0.1:${port('NATS_PORT', -1)}"`,
      // Same durability setting as scripts/nats/nats-server.conf (see README, "Durability").
      `jetstream {\n  store_dir: "${join(dir, 'jetstream')}"\n  sync_interval: 1s\n}`,
      `websocket { listen: "127.0.0.1:${port('NATS_WS_PORT', -1)}", no_tls: true }`,
      '',
    ].join('\n'),
  )
  const child = spawn(bin, ['-c', configFile], { stdio: ['ignore', 'ignore', 'pipe'] })
  children.push({ name: 'nats-server', child })
  let url = ''
  let wsUrl = ''
  let buffer = ''
  return await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`nats-server not ready within 10 s:\n${buffer}`)), 10_000)
    child.on('exit', (code) => reject(new Error(`nats-server exited with ${code}:\n${buffer}`)))
    child.stderr?.on('data', (chunk: Buffer) => {
      buffer += chunk.toString()
      const clientPort = /Listening for client connections on [\d.]+:(\d+)/.exec(buffer)?.[1]
      if (clientPort) url = `nats://127.0.0.1:${clientPort}`
      wsUrl ||= /Listening for websocket clients on (ws:\/\/[\d.]+:\d+)/.exec(buffer)?.[1] ?? ''
      if (url && buffer.includes('Server is ready')) {
        clearTimeout(timer)
        resolve({ url, wsUrl })
      }
    })
  })
}

/** `--runtime=node` (run `npm run build:node` first) or `--runtime=deno`; Bun by default. */
function runtimeFromArgs(): Runtime {
  const given = process.argv.find((a) => a.startsWith('--runtime='))?.slice('--runtime='.length) ?? 'bun'
  const runtime = RUNTIMES.find((r) => r === given)
  if (runtime === undefined) {
    log(`--runtime must be one of ${RUNTIMES.join(', ')}, got ${JSON.stringify(given)}`)
    process.exit(1)
  }
  return runtime
}
const runtime = runtimeFromArgs()

function startWorker(name: string, workerEnv: Record<string, string>): void {
  const { cmd, args } =
    runtime === 'bun'
      ? { cmd: bun, args: ['run', join('workers', name, 'main.ts')] }
      : workerCommand(runtime, name, { root })
  const child = spawn(cmd, args, {
    cwd: root,
    env: { ...env, ...workerEnv },
    stdio: ['ignore', 'inherit', 'inherit'],
  })
  children.push({ name, child })
  child.on('exit', (code, signal) => {
    if (!stopping) {
      log(`${name} exited (${signal ?? code}); stopping everything`)
      void stopAll(1)
    }
  })
}

async function waitReady(name: string, url: string, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (Date.now() < deadline) {
    const ok = await fetch(`${url}/ready`, { signal: AbortSignal.timeout(1_000) }).then(
      (r) => r.ok,
      () => false,
    )
    if (ok) return
    await new Promise((r) => setTimeout(r, 200))
  }
  throw new Error(`${name} not ready at ${url}/ready within ${timeoutMs} ms`)
}

async function seedCatalog(inventoryUrl: string): Promise<void> {
  const catalog = JSON.parse(readFileSync(join(root, 'scripts', 'demo-catalog.json'), 'utf8')) as {
    items: { sku: string; onHand: number; priceCents: number }[]
  }
  let seeded = 0
  for (const { sku, onHand, priceCents } of catalog.items) {
    const existing = await fetch(`${inventoryUrl}/inventory/${sku}`)
    if (existing.status !== 404) continue
    const res = await fetch(`${inventoryUrl}/inventory/${sku}`, {
      method: 'PUT',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ onHand, priceCents }),
    })
    if (!res.ok) throw new Error(`seeding ${sku}: ${res.status} ${await res.text()}`)
    seeded++
  }
  log(`demo catalog: ${seeded} skus seeded, ${catalog.items.length - seeded} already present`)
}

async function stopAll(code: number): Promise<never> {
  stopping = true
  const workers = children.filter((c) => c.name !== 'nats-server').reverse()
  const exits = workers.map(
    ({ child }) => new Promise((done) => (child.exitCode !== null ? done(null) : child.on('exit', done))),
  )
  for (const { child } of workers) child.kill('SIGTERM')
  await Promise.race([Promise.all(exits), new Promise((r) => setTimeout(r, 12_000))])
  for (const { child } of children) if (child.exitCode === null) child.kill('SIGTERM')
  await new Promise((r) => setTimeout(r, 300))
  process.exit(code)
}

async function main(): Promise<void> {
  process.on('SIGINT', () => void stopAll(0))
  process.on('SIGTERM', () => void stopAll(0))

  let natsUrl = env['NATS_URL'] ?? ''
  let wsUrl = ''
  if (natsUrl === '') {
    const nats = await startNats()
    natsUrl = nats.url
    wsUrl = nats.wsUrl
  }
  const host = env['HOST'] ?? '127.0.0.1'
  const ports = {
    order: port('ORDER_PORT', 3000),
    inventory: port('INVENTORY_PORT', 3001),
    payment: port('PAYMENT_PORT', 3002),
    gateway: port('GATEWAY_PORT', 3003),
  }
  const urls = Object.fromEntries(
    Object.entries(ports).map(([k, p]) => [k, `http://${host}:${p}`]),
  ) as Record<keyof typeof ports, string>
  const common = { NATS_URL: natsUrl, HOST: host }

  startWorker('gateway', { ...common, PORT: ports.gateway })
  startWorker('order', { ...common, PORT: ports.order })
  startWorker('inventory', { ...common, PORT: ports.inventory })
  startWorker('payment', {
    ...common,
    PORT: ports.payment,
    PAYMENT_GATEWAY_URL: env['PAYMENT_GATEWAY_URL'] ?? urls.gateway,
  })
  for (const [name, url] of Object.entries(urls)) await waitReady(name, url)
  await seedCatalog(urls.inventory)

  log('ready:')
  log(`  NATS            ${natsUrl}${wsUrl ? `  (WebSocket ${wsUrl})` : ''}`)
  log(`  order intake    ${urls.order}   POST /orders, GET /orders/{orderId}`)
  log(`  inventory       ${urls.inventory}   GET|PUT /inventory/{sku}`)
  log(`  payment worker  ${urls.payment}   /health /ready /metrics`)
  log(`  gateway sandbox ${urls.gateway}   POST /charges, GET /charges?orderId=`)
  log('Ctrl-C stops everything.')
}

main().catch((error: unknown) => {
  log(`failed: ${error instanceof Error ? error.message : String(error)}`)
  void stopAll(1)
})
