/**
 * The multi-call binary: `order-saga order|order-status|inventory|payment|gateway|sandbox|analytics|console|nats-metrics [args]`.
 * One compiled Bun runtime behind every image, so it is stored and pulled once.
 * The only file that imports several workers; each still has its own entry.
 * The service comes from the first argument, else from $ORDER_SAGA_SERVICE
 * (an image's ENTRYPOINT and HEALTHCHECK cannot take build arguments).
 */
import pkg from '../../package.json' with { type: 'json' }
import { main as runEntry } from '../../shared/runtime/run-service.ts'
import { exitWith } from '../../shared/runtime/server.ts'
import { runAnalytics } from '../analytics/entry.ts'
import { consoleEntry } from '../console/entry.ts'
import { main as gatewayMain } from '../gateway/main.ts'
import { inventoryEntry } from '../inventory/entry.ts'
import { natsMetricsEntry } from '../nats-metrics/entry.ts'
import { orderEntry } from '../order/entry.ts'
import { orderStatusEntry } from '../order/status-entry.ts'
import { paymentEntry } from '../payment/entry.ts'
import { runProvision } from '../provision/main.ts'

type Env = Readonly<Record<string, string | undefined>>
type Command = (argv: readonly string[], env: Env) => void

export const SERVICE_ENV = 'ORDER_SAGA_SERVICE'

const commands = {
  order: (argv) => runEntry(orderEntry, argv),
  'order-status': (argv) => runEntry(orderStatusEntry, argv),
  inventory: (argv) => runEntry(inventoryEntry, argv),
  payment: (argv) => runEntry(paymentEntry, argv),
  analytics: (argv, env) => runAnalytics(argv, env),
  console: (argv) => runEntry(consoleEntry, argv),
  'nats-metrics': (argv) => runEntry(natsMetricsEntry, argv),
  gateway: (argv, env) => runGateway(argv, env),
  /** The payment sandbox under its other name: the same as `gateway`. */
  sandbox: (argv, env) => runGateway(argv, env),
  provision: (argv, env) => {
    void runProvision(env, argv).then((code) => process.exit(code))
  },
  probe: (argv) => {
    void probe(argv[0]).then((code) => process.exit(code))
  },
} as const satisfies Record<string, Command>

export type CommandName = keyof typeof commands

function runGateway(argv: readonly string[], env: Env): void {
  gatewayMain(argv, env).catch((error: unknown) => exitWith(`gateway failed to start: ${describe(error)}`))
}

export function helpText(): string {
  return [
    `order-saga ${pkg.version}: every service of the order saga in one binary`,
    '',
    'usage: order-saga <service> [--help | --version | healthcheck]',
    '       order-saga provision   create or update every stream, bucket and consumer (admin identity), then exit',
    '       order-saga probe <url>   exit 0 when GET <url> answers 2xx within 2 s (prints the body)',
    '       order-saga analytics --from <ISO time>   rebuild the analytics windows from that minute, then run',
    '',
    'services: order, order-status, inventory, payment, gateway (or sandbox), analytics, console, nats-metrics',
    `${SERVICE_ENV}=<service> picks the service when the first argument names none.`,
    '',
  ].join('\n')
}

export function main(argv: readonly string[], env: Env): void {
  const [first = '', ...rest] = argv
  if (isCommand(first)) return commands[first](rest, env)
  const fromEnv = env[SERVICE_ENV] ?? ''
  if (isCommand(fromEnv)) return commands[fromEnv](argv, env)
  if (fromEnv !== '') exitWith(`order-saga: ${SERVICE_ENV}=${fromEnv} is not a service (try --help)`)
  // A name that is no command is an error, whatever flags follow it (`order-saga nope --version`).
  if (first !== '' && !first.startsWith('-')) exitWith(`order-saga: unknown command ${first} (try --help)`)
  if (argv.includes('--version')) return void process.stdout.write(`${pkg.version}\n`)
  if (argv.includes('--help') || argv.includes('-h')) return void process.stdout.write(helpText())
  exitWith(first === '' ? helpText() : `order-saga: unknown command ${first} (try --help)`)
}

/** GET `url`: 0 on a 2xx answer within 2 s (the body goes to stdout), else 1. */
export async function probe(url: string | undefined): Promise<number> {
  if (url === undefined || !/^https?:\/\//.test(url)) {
    process.stderr.write('usage: order-saga probe <http(s) url>\n')
    return 2
  }
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(2_000) })
    process.stdout.write(`${await res.text()}\n`)
    return res.ok ? 0 : 1
  } catch (error) {
    process.stderr.write(`probe ${url}: ${describe(error)}\n`)
    return 1
  }
}

function isCommand(name: string): name is CommandName {
  return Object.hasOwn(commands, name)
}

function describe(error: unknown): string {
  return error instanceof Error ? (error.stack ?? error.message) : String(error)
}

if (import.meta.main) main(process.argv.slice(2), process.env)
