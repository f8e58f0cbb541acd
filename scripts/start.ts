// `npm start`: an embedded nats-server (unless NATS_URL is set), the payment
// gateway sandbox and the three workers (restarted when they exit), a seeded
// demo catalog, the stack's connection details in .local/run/env and
// .local/run/stack.json, and on Ctrl-C the workers stopped first, nats-server last.
// Parts: scripts/start/ (options, ports, nats, context, supervisor, catalog, banner, run-dir).
import type { ChildProcess } from 'node:child_process'
import { mkdirSync } from 'node:fs'
import { join } from 'node:path'
import { projectRoot } from './nats-server-bin.ts'
import { workerCommand } from './runtime-commands.ts'
import { banner, shown } from './start/banner.ts'
import { waitReady, seedCatalog } from './start/catalog.ts'
import { natsPublicKeys } from '../shared/security/deployment-secrets.ts'
import { renderAuthorization } from '../shared/security/nats-auth-config.ts'
import { apiGuardFromEnv, apiGuardProblems } from '../shared/security/api-guard.ts'
import {
  beforeWorkers,
  createContext,
  ignoredSecrets,
  inheritedEnv,
  currencyProblem,
  intakeSettings,
  workerEnv,
  type StackContext,
} from './start/context.ts'
import { loadStackSecrets, StackSecretsError } from './start/secrets.ts'
import { natsServerConfig, resolveServerBin, startNatsServer } from './start/nats.ts'
import { nodeBundleProblems, parseStartOptions, USAGE, WORKERS, type StartOptions } from './start/options.ts'
import { checkPorts, type PortCheck } from './start/ports.ts'
import {
  leftoverProblem,
  readEnvFile,
  readRunningStack,
  readStackFile,
  removeStackFile,
  StackRunningError,
  wipeStateDir,
  lockStateDir,
  writePrivateFile,
  writeStackFile,
} from './start/run-dir.ts'
import { exitOf, signalGroup, Supervisor } from './start/supervisor.ts'

const WORKER_STOP_DEADLINE_MS = 15_000
const NATS_STOP_DEADLINE_MS = 10_000
/** A second signal this soon after the first is the same Ctrl-C (npm forwards it to its script too). */
const SAME_SIGNAL_MS = 1_000

const log = (line: string): void => void process.stderr.write(`[start] ${line}\n`)

const startedAt = new Date().toISOString()
let nats: ChildProcess | undefined
let stateDir: string | undefined
let stopping: Promise<never> | undefined
let firstSignalAt = 0
const supervisor = new Supervisor({
  log,
  onFatal: (name, how) => {
    log(`${name} exited (${how}) before it was ready; stopping everything`)
    void shutdown(1)
  },
  onPids: () => recordStack(),
})
let context: StackContext | undefined

function recordStack(): void {
  if (context === undefined || stopping !== undefined) return
  writeStackFile(context.stateDir, {
    pid: process.pid,
    startedAt,
    runtime: context.runtime,
    natsUrl: context.nats.url,
    wsUrl: context.nats.wsUrl,
    natsServerPid: nats?.pid ?? null,
    http: context.urls,
    workers: supervisor.pids(),
    intake: intakeSettings(),
  })
}

/** Workers first (SIGTERM, deadline, SIGKILL), nats-server last, then exit with `code`. */
function shutdown(code: number): Promise<never> {
  stopping ??= (async () => {
    await supervisor.stop(WORKER_STOP_DEADLINE_MS)
    if (nats !== undefined) {
      const exited = exitOf(nats)
      signalGroup(nats, 'SIGTERM')
      const late = await Promise.race([
        exited.then(() => false),
        delay(NATS_STOP_DEADLINE_MS).then(() => true),
      ])
      if (late) log(`nats-server still running after ${NATS_STOP_DEADLINE_MS / 1000} s: killed`)
      signalGroup(nats, 'SIGKILL')
    }
    forgetStack()
    log(code === 0 ? 'stopped' : 'stopped (failed)')
    process.exit(code)
  })()
  return stopping
}

function forgetStack(): void {
  if (stateDir !== undefined && readStackFile(stateDir)?.pid === process.pid) removeStackFile(stateDir)
}

let killing = false

function onSignal(signal: NodeJS.Signals): void {
  const now = Date.now()
  if (firstSignalAt === 0) {
    firstSignalAt = now
    log(
      `${signal}: stopping the workers, then nats-server (Ctrl-C again, a second or more later, to kill at once)`,
    )
    void shutdown(0)
  } else if (!killing && now - firstSignalAt > SAME_SIGNAL_MS) {
    // Once: npm passes a Ctrl-C on as well, a second copy of the same signal.
    killing = true
    log(`${signal} again: killing everything`)
    const gone = [supervisor.kill(), ...(nats === undefined ? [] : [exitOf(nats)])]
    if (nats !== undefined) signalGroup(nats, 'SIGKILL')
    forgetStack()
    // Reaped before leaving (a SIGKILL takes effect at once; the deadline is for safety).
    void Promise.race([Promise.all(gone), delay(2_000)]).then(() => process.exit(130))
  }
}

const delay = (ms: number): Promise<void> => new Promise((done) => setTimeout(done, ms))

function fail(lines: readonly string[]): never {
  for (const line of lines) log(line)
  process.exit(1)
}

/** Everything that can refuse a start before anything starts: a running stack, busy ports. */
async function preflight(
  options: StartOptions,
  /** Another npm start holds the state folder: why (run-dir.ts, `lockStateDir`). */
  locked?: string,
): Promise<StartOptions> {
  const running = readRunningStack(options.stateDir)
  const leftover = leftoverProblem(options.stateDir)
  const currency = currencyProblem()
  const checks: PortCheck[] = [
    ...(options.natsUrl === undefined
      ? [
          { what: 'nats-server', host: '127.0.0.1', setting: options.nats },
          { what: 'nats-server WebSocket', host: '127.0.0.1', setting: options.natsWs },
          { what: 'nats-server monitoring', host: '127.0.0.1', setting: options.natsMonitor },
        ]
      : []),
    ...WORKERS.map((w) => ({ what: w, host: options.host, setting: options.workers[w] })),
  ]
  const plan = await checkPorts(checks)
  const problems = [
    ...(running === undefined
      ? locked === undefined
        ? []
        : [locked]
      : [
          `npm start is already running from ${shown(options.stateDir)} (pid ${running.pid}, since ${running.startedAt}): ` +
            'stop it with Ctrl-C in its terminal, or use another ORDER_SAGA_STATE_DIR',
        ]),
    ...(leftover === undefined ? [] : [leftover]),
    ...(currency === undefined ? [] : [currency]),
    ...apiGuardProblems(process.env),
    ...nodeBundleProblems(options, projectRoot),
    ...plan.problems,
  ]
  if (problems.length > 0) fail(['cannot start:', ...problems.map((p) => `  ${p}`)])
  for (const { note } of plan.fallbacks) log(note)
  const fellBack = (variable: string): boolean =>
    plan.fallbacks.some((f) => f.check.setting.variable === variable)
  return {
    ...options,
    nats: fellBack('NATS_PORT') ? { ...options.nats, port: -1 } : options.nats,
    natsWs: fellBack('NATS_WS_PORT') ? { ...options.natsWs, port: -1 } : options.natsWs,
    natsMonitor: fellBack('NATS_MONITOR_PORT') ? { ...options.natsMonitor, port: -1 } : options.natsMonitor,
  }
}

async function startNats(options: StartOptions, authorization: string): Promise<StackContext['nats']> {
  if (options.natsUrl !== undefined) {
    const file = join(options.stateDir, 'nats-authorization.conf')
    writePrivateFile(file, authorization)
    log(
      `NATS_URL is set: that server must include ${shown(file)} (the identities of this stack, and its system account ` +
        '$SYS with the JetStream API guard: merge it into an accounts block the server already has)',
    )
    return { url: options.natsUrl, wsUrl: null, monitorUrl: null }
  }
  const bin = await resolveServerBin(log)
  const storeDir = join(options.stateDir, 'jetstream')
  mkdirSync(storeDir, { recursive: true, mode: 0o700 })
  const configFile = join(options.stateDir, 'nats-server.conf')
  const settings = {
    storeDir,
    host: '127.0.0.1',
    port: options.nats.port,
    wsPort: options.natsWs.port,
    monitorPort: options.natsMonitor.port,
    authorization,
  }
  writePrivateFile(configFile, natsServerConfig(settings))
  const started = startNatsServer(bin, configFile, log)
  nats = started.child
  const { url, wsUrl, monitorUrl } = await started.ready
  // Started again on the ports it got, should it die (the workers reconnect to the same URLs).
  const portOf = (address: string): number => Number(/:(\d+)$/.exec(address)?.[1] ?? -1)
  writePrivateFile(
    configFile,
    natsServerConfig({
      ...settings,
      port: portOf(url),
      wsPort: wsUrl === '' ? settings.wsPort : portOf(wsUrl),
      monitorPort: monitorUrl === '' ? settings.monitorPort : portOf(monitorUrl),
    }),
  )
  watchNats(started.child, bin, configFile)
  return { url, wsUrl: wsUrl === '' ? null : wsUrl, monitorUrl: monitorUrl === '' ? null : monitorUrl }
}

/**
 * nats-server exiting while the stack runs (killed, crashed) is said at once
 * and the server started again with the same configuration and store, after
 * a short pause that grows while it keeps failing; the workers hold their
 * messages and reconnect. stack.json names no nats-server in between, so
 * nothing signals a process id that may have been reused.
 */
function watchNats(child: ChildProcess, bin: string, configFile: string): void {
  child.once('exit', (code, signal) => {
    if (stopping !== undefined || nats !== child) return
    nats = undefined
    recordStack()
    log(`nats-server (pid ${child.pid}) exited with ${signal ?? code}; starting it again`)
    void restartNats(bin, configFile, 0)
  })
}

async function restartNats(bin: string, configFile: string, failures: number): Promise<void> {
  await delay(Math.min(10_000, 500 * 2 ** failures))
  if (stopping !== undefined) return
  const again = startNatsServer(bin, configFile, log)
  nats = again.child
  try {
    await again.ready
  } catch (error) {
    // startNatsServer killed it; another try after a longer pause.
    if (nats === again.child) nats = undefined
    const why = (error instanceof Error ? error.message : String(error)).split('\n')[0]
    log(`nats-server did not come back (${why}); trying again`)
    return restartNats(bin, configFile, failures + 1)
  }
  if (stopping !== undefined) return
  log(`nats-server is back (pid ${again.child.pid})`)
  recordStack()
  watchNats(again.child, bin, configFile)
}

async function main(): Promise<void> {
  const parsed = parseStartOptions(process.argv.slice(2), process.env, process.stdout.isTTY === true)
  if (!parsed.ok) fail([...parsed.problems, USAGE])
  if (parsed.options.help) {
    process.stdout.write(`${USAGE}\n`)
    return
  }
  stateDir = parsed.options.stateDir
  // Refused below with every other problem; nothing is removed meanwhile.
  let locked: string | undefined
  try {
    lockStateDir(stateDir)
  } catch (error) {
    if (!(error instanceof StackRunningError)) throw error
    locked = error.message
  }
  // Read before --fresh removes it: a shell that sourced it exported its admin seed file.
  const written = readEnvFile(stateDir)
  if (parsed.options.fresh && locked === undefined) {
    const wiped = wipeStateDir(stateDir)
    log(
      wiped === 'wiped' ? `--fresh: removed ${shown(stateDir)}` : `--fresh: ${shown(stateDir)} did not exist`,
    )
  }
  const options = await preflight(parsed.options, locked)
  process.on('SIGINT', onSignal)
  process.on('SIGTERM', onSignal)
  // The terminal went away: stop as for Ctrl-C (the workers and nats-server run in groups of their own).
  process.on('SIGHUP', onSignal)

  const ignored = ignoredSecrets(process.env, written)
  if (ignored.length > 0)
    log(
      `ignoring ${ignored.join(', ')}: npm start gives each service its own secrets from ${shown(join(options.stateDir, 'secrets.json'))} (docs/configuration.md)`,
    )
  let secrets: Awaited<ReturnType<typeof loadStackSecrets>>
  try {
    secrets = await loadStackSecrets(options.stateDir, process.env)
  } catch (error) {
    if (error instanceof StackSecretsError) fail(['cannot start:', ...error.problems.map((p) => `  ${p}`)])
    throw error
  }
  const apiGuard = apiGuardFromEnv(process.env)
  if (!apiGuard)
    log(
      'NATS_API_GUARD=off: streams and consumers of the saga can be deleted or purged through any identity (a maintenance window; docs/operations.md)',
    )
  const authorization = renderAuthorization(natsPublicKeys(secrets), { apiGuard })
  const ctx = createContext(options, await startNats(options, authorization))
  for (const step of beforeWorkers(secrets)) {
    if (stopping !== undefined) return
    await step.run(ctx)
  }
  context = ctx
  recordStack()
  const startWorker = (name: (typeof WORKERS)[number]) =>
    supervisor.start({
      name,
      command: workerCommand(ctx.runtime, name, { root: projectRoot, writeDir: options.stateDir }),
      env: { ...inheritedEnv(process.env), ...workerEnv(name, ctx) },
      cwd: projectRoot,
      // Up first and down last: the payment worker checks its key with it at
      // start, and its charges in flight at a stop finish against it.
      stopLast: name === 'gateway',
    })
  // The gateway first: the payment worker checks its secret key with it at start.
  startWorker('gateway')
  await waitReady('gateway', ctx.urls.gateway)
  if (stopping !== undefined) return
  for (const name of WORKERS) if (name !== 'gateway') startWorker(name)
  await Promise.all(WORKERS.map((name) => waitReady(name, ctx.urls[name])))
  if (stopping !== undefined) return
  supervisor.restart = true
  log(
    await seedCatalog(ctx.urls.inventory, {
      Authorization: `Bearer ${ctx.operatorEnv['ADMIN_API_KEY'] ?? ''}`,
    }),
  )
  for (const line of banner(ctx, { showKeys: process.stdout.isTTY === true })) log(line)
}

main().catch((error: unknown) => {
  if (error instanceof StackRunningError) fail([`cannot start: ${error.message}`])
  log(`failed: ${error instanceof Error ? error.message : String(error)}`)
  void shutdown(1)
})
