// `npm run dlq -- <command>`: look at, replay and purge dead letters (stream DLQ).
import { resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { asksForHelp } from './lib/help.ts'
import { jetstream, jetstreamManager, type JetStreamClient, type JetStreamManager } from '@nats-io/jetstream'
import { connect } from '@nats-io/transport-node'
import * as v from 'valibot'
import { ConfigError, intFromEnv, loadConfig, natsUrlsFromEnv } from '../shared/config/load-config.ts'
import { shownUrl } from '../shared/config/shown-url.ts'
import { natsSettings } from '../shared/config/nats-settings.ts'
import { caFileProblems, withSecretFiles } from '../shared/config/secrets.ts'
import { natsClientOptions } from '../shared/security/nats-client-options.ts'
import { NkeySeedError } from '../shared/security/nkey-signer.ts'
import { permissionViolationOf } from '../shared/nats/permission-violation.ts'
import { operatorEnv } from './start/run-dir.ts'
import {
  assertDeadLetterSubject,
  DeadLetterNotReplayableError,
  listDeadLetters,
  purgeDeadLetters,
  replayDeadLetter,
  showDeadLetter,
  type DeadLetterSummary,
} from '../shared/nats/dead-letter-admin.ts'

export const USAGE = `usage: npm run dlq -- <command>
  list [--json] [--subject dlq.<subject>]  one line per dead letter; the id is its DLQ sequence
  show <id>                                headers and payload of one dead letter
  replay <id>                              publish the original to its subject (msg id replay:DLQ:<id>)
  purge [--subject dlq.<subject>]          remove dead letters (all, or one subject); prints how many
environment: NATS_URL (default: the running npm start's, from .local/run/stack.json, else nats://127.0.0.1:4222),
  NATS_NKEY_SEED or NATS_NKEY_SEED_FILE (an admin identity; npm start's .local/run/env names one),
  NATS_REQUEST_TIMEOUT_MS (default 5000), ORDER_SAGA_STATE_DIR (default .local/run)`

export type DlqCommand =
  | { name: 'list'; json: boolean; subject?: string }
  | { name: 'show' | 'replay'; id: number }
  | { name: 'purge'; subject?: string }

export type ParsedArgs = { ok: true; command: DlqCommand } | { ok: false; error: string }

/** Reads the command line; every mistake is a value with a message, never a throw. */
export function parseDlqArgs(argv: readonly string[]): ParsedArgs {
  let parsed: ReturnType<typeof parseFlags>
  try {
    parsed = parseFlags(argv)
  } catch (error) {
    return { ok: false, error: error instanceof Error ? error.message : String(error) }
  }
  const [name, ...rest] = parsed.positionals
  const { json = false, subject } = parsed.values
  if (subject !== undefined) {
    try {
      assertDeadLetterSubject(subject)
    } catch (error) {
      return { ok: false, error: error instanceof Error ? error.message : String(error) }
    }
  }
  const extra = (allowed: boolean, flag: string) => (allowed ? [] : [`${flag} is not an option of ${name}`])
  const problems = [
    ...extra(!json || name === 'list', '--json'),
    ...extra(subject === undefined || name === 'list' || name === 'purge', '--subject'),
  ]
  switch (name) {
    case 'list':
    case 'purge':
      if (rest.length > 0) problems.push(`${name} takes no arguments, got ${rest.join(' ')}`)
      if (problems.length > 0) return { ok: false, error: problems.join('; ') }
      return {
        ok: true,
        command:
          name === 'list'
            ? { name, json, ...(subject === undefined ? {} : { subject }) }
            : { name, ...(subject === undefined ? {} : { subject }) },
      }
    case 'show':
    case 'replay': {
      const [id, ...more] = rest
      // Past 2^53 a number is not the one typed: refused as typed, not rounded.
      if (
        id === undefined ||
        more.length > 0 ||
        !/^[1-9]\d{0,15}$/.test(id) ||
        !Number.isSafeInteger(Number(id))
      )
        problems.push(`${name} takes one id (a DLQ sequence), got ${rest.join(' ') || 'none'}`)
      if (problems.length > 0 || id === undefined) return { ok: false, error: problems.join('; ') }
      return { ok: true, command: { name, id: Number(id) } }
    }
    case undefined:
      return { ok: false, error: 'no command given' }
    default:
      return { ok: false, error: `unknown command ${JSON.stringify(name)}` }
  }
}

function parseFlags(argv: readonly string[]) {
  // A negative number is a (wrong) id, not an option: `show -1` says so like `show 0`.
  const negative = (a: string) => /^-\d/.test(a)
  const parsed = parseArgs({
    args: argv.filter((a) => !negative(a)),
    options: { json: { type: 'boolean' }, subject: { type: 'string' } },
    allowPositionals: true,
    strict: true,
  })
  return { ...parsed, positionals: [...parsed.positionals, ...argv.filter(negative)] }
}

const dash = (value: string | number | null): string => (value === null ? '-' : String(value))

/**
 * A line as the terminal may see it: a dead letter's headers and body come
 * from whoever published them, so control characters (C0 but newline and
 * tab, DEL, C1) and bidirectional overrides are written as `\uXXXX` (also a
 * valid escape inside the JSON of `list --json`), never sent to the terminal
 * (which would clear the screen, recolour text or set the window title).
 */
export function forTerminal(line: string): string {
  return line.replace(
    // eslint-disable-next-line no-control-regex -- matching control characters is the point
    /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/g,
    (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`,
  )
}

export function formatDeadLetterLine(d: DeadLetterSummary): string {
  return [
    d.id,
    d.time,
    dash(d.subject),
    `seq=${dash(d.sequence)}`,
    `consumer=${dash(d.consumer)}`,
    `deliveries=${dash(d.deliveries)}`,
    `reason=${d.reason}`,
  ].join('  ')
}

function pretty(payload: string): string {
  try {
    return JSON.stringify(JSON.parse(payload), null, 2)
  } catch {
    return payload // not JSON (a malformed_json dead letter): shown as it is
  }
}

/** Runs one command; `print` gets every line of output. */
export async function runDlq(
  command: DlqCommand,
  {
    js,
    jsm,
    timeoutMs,
    print,
  }: { js: JetStreamClient; jsm: JetStreamManager; timeoutMs: number; print: (line: string) => void },
): Promise<void> {
  const subject = 'subject' in command && command.subject !== undefined ? { subject: command.subject } : {}
  switch (command.name) {
    case 'list': {
      // Every letter, as purge reads every one (the console pages its own listing).
      const letters = await listDeadLetters(js, jsm, {
        ...subject,
        timeoutMs,
        limit: Number.MAX_SAFE_INTEGER,
      })
      if (command.json) print(JSON.stringify(letters, null, 2))
      else if (letters.length === 0) print('no dead letters')
      else for (const d of letters) print(formatDeadLetterLine(d))
      return
    }
    case 'show': {
      const d = await showDeadLetter(jsm, command.id)
      print(`dead letter ${d.id} on ${d.dlqSubject}`)
      print('headers:')
      for (const [key, values] of Object.entries(d.headers))
        for (const value of values) print(`  ${key}: ${value}`)
      print(d.payload === '' ? 'payload: (empty)' : `payload:\n${pretty(d.payload)}`)
      return
    }
    case 'replay': {
      const r = await replayDeadLetter(js, jsm, command.id, { timeoutMs })
      const where = `${r.stream} seq ${r.seq}`
      print(`replayed dead letter ${r.id} to ${r.subject} with msg id ${r.msgId} (${r.bytes} bytes)`)
      print(
        r.duplicate
          ? `already replayed inside the duplicate window: not stored again (${where})`
          : `stored as ${where}`,
      )
      for (const [key, values] of Object.entries(r.headers))
        for (const value of values) print(`  ${key}: ${value}`)
      return
    }
    case 'purge': {
      const purged = await purgeDeadLetters(js, jsm, { ...subject, timeoutMs })
      print(
        `purged ${purged} dead letter${purged === 1 ? '' : 's'}${command.subject === undefined ? '' : ` on ${command.subject}`}`,
      )
      return
    }
  }
}

const describe = (error: unknown): string =>
  error instanceof Error
    ? `${error.message}${error.cause instanceof Error ? `: ${error.cause.message}` : ''}`
    : String(error)

async function main(argv: readonly string[], env: Record<string, string | undefined>): Promise<number> {
  if (asksForHelp(argv)) {
    console.log(USAGE)
    return 0
  }
  const parsed = parseDlqArgs(argv)
  if (!parsed.ok) {
    console.error(`dlq: ${parsed.error}\n${USAGE}`)
    return 1
  }
  const found = operatorEnv(env)
  const from = found.natsUrlFrom === 'NATS_URL' ? '' : ` (${found.natsUrlFrom})`
  let config
  try {
    config = loadConfig(
      v.object({
        NATS_URL: natsUrlsFromEnv,
        NATS_NKEY_SEED: natsSettings.NATS_NKEY_SEED,
        NATS_TLS_CA_FILE: natsSettings.NATS_TLS_CA_FILE,
        NATS_REQUEST_TIMEOUT_MS: intFromEnv(5_000, 100, 600_000),
      }),
      withSecretFiles(found.env, ['NATS_NKEY_SEED']),
    )
    const caFile = caFileProblems(found.env)
    if (caFile.length > 0) throw new ConfigError(caFile)
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error
    console.error(`dlq: ${error.message}`)
    return 1
  }
  const timeoutMs = config.NATS_REQUEST_TIMEOUT_MS
  let clientOptions
  try {
    // An admin identity (npm start's env file names its seed file).
    clientOptions = natsClientOptions(config)
  } catch (error) {
    if (!(error instanceof NkeySeedError)) throw error
    console.error(`dlq: NATS_NKEY_SEED: ${error.message}`)
    return 1
  }
  const nc = await connect({
    ...clientOptions,
    servers: config.NATS_URL,
    name: 'dlq-cli',
    timeout: timeoutMs,
    maxReconnectAttempts: 0,
  }).catch(
    (error: unknown) =>
      new Error(`cannot connect to ${config.NATS_URL.map(shownUrl).join(', ')}${from}`, { cause: error }),
  )
  if (nc instanceof Error) {
    console.error(forTerminal(`dlq: ${describe(nc)}`))
    return 1
  }
  try {
    const jsm = await jetstreamManager(nc, { timeout: timeoutMs })
    await runDlq(parsed.command, {
      js: jetstream(nc, { timeout: timeoutMs }),
      jsm,
      timeoutMs,
      print: (line) => console.log(forTerminal(line)),
    })
    return 0
  } catch (error) {
    const refused = permissionViolationOf(error)
    const what =
      error instanceof DeadLetterNotReplayableError
        ? `not replayable: ${describe(error)}`
        : error instanceof Error && error.name === 'TimeoutError'
          ? `${parsed.command.name}: NATS did not answer within NATS_REQUEST_TIMEOUT_MS (${timeoutMs} ms): ${describe(error)}`
          : refused !== undefined
            ? `nats-server refused this identity ${refused.subject}: the dead-letter commands need the admin identity (NATS_NKEY_SEED_FILE as .local/run/env names it, or the admin seed in NATS_NKEY_SEED)`
            : describe(error)
    console.error(forTerminal(`dlq: ${what}`))
    return 1
  } finally {
    // Bounded too: a server that stopped answering never acknowledges the close.
    await Promise.race([nc.close(), new Promise((resolve) => setTimeout(resolve, timeoutMs).unref())])
  }
}

const invokedDirectly =
  process.argv[1] !== undefined && resolve(process.argv[1]) === fileURLToPath(import.meta.url)
// process.exit, not exitCode: a server that accepts the connection and never
// answers leaves a socket that would keep the process alive past its deadline.
if (invokedDirectly) {
  const code = await main(process.argv.slice(2), process.env)
  // Once what was printed has been written out (a pipe may still hold it).
  process.stdout.write('', () => process.stderr.write('', () => process.exit(code)))
}
