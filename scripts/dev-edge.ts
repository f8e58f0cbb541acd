// `npm run dev:edge [-- <wrangler dev options>]`: the edge order intake
// (workers/order/edge.ts) in workerd with `wrangler dev`, connected over
// WebSocket to the NATS of the running `npm start` (from .local/run/stack.json),
// with the order-edge identity and keys from npm start's .local/run/secrets.json.
// EDGE_PORT (8787) and EDGE_HOST (127.0.0.1) choose where it listens.
import { shownUrl } from '../shared/config/shown-url.ts'
import { spawn } from 'node:child_process'
import { join } from 'node:path'
import { readFileSync } from 'node:fs'
import { serviceSecrets, type DeploymentSecrets } from '../shared/security/deployment-secrets.ts'
import { handleHelp } from './lib/help.ts'
import { projectRoot } from './nats-server-bin.ts'
import { shown } from './start/banner.ts'
import { SHARED_INTAKE_SETTINGS } from './start/context.ts'
import { portFree } from './start/ports.ts'
import { secretsFile } from './start/secrets.ts'
import { readRunningStack, stackFilePath, stateDir, writePrivateFile } from './start/run-dir.ts'

if (import.meta.main)
  handleHelp(
    process.argv.slice(2),
    `usage: npm run dev:edge [-- <wrangler dev options>]
  the edge order intake in workerd (wrangler dev), on the running npm start's NATS over WebSocket
environment: EDGE_PORT (8787), EDGE_HOST (127.0.0.1), ORDER_SAGA_STATE_DIR (default .local/run);
  ORDER_CREATED_VERSIONS, ORDER_CURRENCY, ORDER_EXPRESS_KEYS (default: what npm start's intake runs with)`,
    { takesArguments: true },
  )

const env = process.env
const log = (line: string): void => void process.stderr.write(`[dev:edge] ${line}\n`)
function fail(line: string): never {
  log(line)
  process.exit(1)
}

/** wrangler's --env-file format (dotenv), one line per setting. */
export function toDotEnv(entries: Readonly<Record<string, string>>): string {
  const lines = Object.entries(entries).map(([name, value]) => {
    if (/[\r\n]/.test(value)) throw new Error(`${name}: a value on several lines does not fit a .env file`)
    return `${name}=${value}`
  })
  return `${lines.join('\n')}\n`
}

const dir = stateDir(env)
const stack =
  readRunningStack(dir) ?? fail(`no npm start is running from ${shown(dir)}: start one first (npm start)`)
const wsUrl =
  stack.wsUrl ??
  fail(
    `the npm start running from ${shown(dir)} uses an outside NATS (NATS_URL ${shownUrl(stack.natsUrl)}); ` +
      'run wrangler yourself with its WebSocket URL: npx wrangler dev --var NATS_URL:wss://...',
  )
const host = env['EDGE_HOST'] || '127.0.0.1'
const port = env['EDGE_PORT'] || '8787'
if (!/^\d{1,5}$/.test(port) || Number(port) < 1 || Number(port) > 65_535)
  fail(`EDGE_PORT must be a port number (1-65535), got ${JSON.stringify(port)}`)
const free = await portFree(host, Number(port))
if (free instanceof Error) fail(`cannot listen on ${host} (EDGE_HOST): ${free.message}`)
if (!free)
  fail(
    `port ${port} is in use (EDGE_PORT): another npm run dev:edge may be running; stop it or set EDGE_PORT`,
  )

// The edge intake's own identity and keys from npm start's secrets, then its NATS over WebSocket.
const secrets = JSON.parse(readFileSync(secretsFile(dir), 'utf8')) as DeploymentSecrets
// The running intake's settings the Worker reads too (ORDER_CREATED_VERSIONS,
// ORDER_CURRENCY, ORDER_EXPRESS_KEYS), unless set here: one shop, one contract.
const shared = Object.fromEntries(
  SHARED_INTAKE_SETTINGS.flatMap((name) => {
    const value = env[name] || stack.intake?.[name]
    return value === undefined || value === '' ? [] : [[name, value]]
  }),
)
const settings = { ...shared, ...(await serviceSecrets('order-edge', secrets)), NATS_URL: wsUrl }
// A file, not --var: values (keys, credentials) stay out of the process list.
const envFile = join(dir, 'edge.env')
writePrivateFile(envFile, toDotEnv(settings))

log(`order intake (workerd) on http://${host}:${port} -> NATS ${wsUrl} (from ${shown(stackFilePath(dir))})`)
const wrangler = spawn(
  join(projectRoot, 'node_modules', '.bin', 'wrangler'),
  [
    'dev',
    '--ip',
    host,
    '--port',
    port,
    '--show-interactive-dev-session=false',
    '--env-file',
    envFile,
    ...process.argv.slice(2),
  ],
  {
    cwd: projectRoot,
    stdio: 'inherit',
    env: { WRANGLER_SEND_METRICS: 'false', CLOUDFLARE_CF_FETCH_ENABLED: 'false', ...env },
  },
)
// A Ctrl-C reaches wrangler too (same terminal): this process waits for it to
// finish. A SIGINT sent to this process alone (a supervisor, `kill -INT`) is
// passed on to wrangler once it has not stopped within a second.
const SIGINT_GRACE_MS = 1_000
process.on('SIGINT', () => {
  setTimeout(() => {
    if (wrangler.exitCode === null && wrangler.signalCode === null) wrangler.kill('SIGTERM')
  }, SIGINT_GRACE_MS).unref()
})
process.on('SIGTERM', () => wrangler.kill('SIGTERM'))
wrangler.on('exit', (code, signal) => process.exit(code ?? (signal === null ? 1 : 130)))
