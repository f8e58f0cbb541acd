import { spawn } from 'node:child_process'
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { createServer, type Server } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { banner } from './banner.ts'
import {
  createContext,
  currencyProblem,
  ignoredSecrets,
  inheritedEnv,
  shopCurrency,
  workerEnv,
} from './context.ts'
import { natsServerConfig } from './nats.ts'
import { nodeBundleProblems, parseStartOptions } from './options.ts'
import { checkPorts } from './ports.ts'
import {
  fromEnvFile,
  leftoverProblem,
  operatorEnv,
  readEnvFile,
  toEnvFile,
  wipeStateDir,
  writeEnvFile,
  writeStackFile,
  START_MARKER,
} from './run-dir.ts'
import { loadStackSecrets, secretsFile, StackSecretsError } from './secrets.ts'
import { nextRestartDelay, Supervisor } from './supervisor.ts'
import { waitFor } from '../../test/harness/wait-for.ts'

const tmp = mkdtempSync(join(tmpdir(), 'start-unit-'))
afterAll(() => rmSync(tmp, { recursive: true, force: true }))

describe('nextRestartDelay', () => {
  it.each([
    [undefined, 100, 500],
    [500, 100, 1_000],
    [16_000, 100, 30_000],
    [30_000, 100, 30_000],
    [30_000, 30_000, 500],
  ])('after a %s ms delay and a %s ms run waits %s ms', (last, ran, next) => {
    expect(nextRestartDelay(last, ran)).toBe(next)
  })
})

describe('the env file', () => {
  it('round-trips any value through shell quoting and is readable by its owner only', () => {
    const entries = { NATS_URL: 'nats://127.0.0.1:4222', KEY: `it's "x"\nline two $HOME` }
    expect(fromEnvFile(toEnvFile(entries))).toStrictEqual(entries)
    const dir = join(tmp, 'env')
    writeEnvFile(dir, entries)
    expect(statSync(join(dir, 'env')).mode & 0o777).toBe(0o600)
    expect(readEnvFile(dir)).toStrictEqual(entries)
  })

  it('refuses names a shell cannot export', () => {
    expect(() => toEnvFile({ 'NOT-A-NAME': 'x' })).toThrow('not shell variable names: NOT-A-NAME')
  })
})

describe('parseStartOptions', () => {
  it('reports every problem at once', () => {
    const parsed = parseStartOptions(
      ['--runtime=java', '--frsh'],
      { GATEWAY_PORT: 'x', LOG_FORMAT: 'xml' },
      false,
    )
    expect(parsed).toStrictEqual({
      ok: false,
      problems: [
        '--runtime must be one of bun, node, deno, got "java"',
        'unknown argument "--frsh"',
        'LOG_FORMAT: must be json or pretty, got "xml"',
        'GATEWAY_PORT must be a port number from 1 to 65535, got "x"',
      ],
    })
  })

  it('refuses a state folder that is a file, naming the setting', () => {
    const file = join(tmp, 'a-file')
    writeFileSync(file, '')
    expect(parseStartOptions([], { ORDER_SAGA_STATE_DIR: file }, false)).toStrictEqual({
      ok: false,
      problems: [
        `ORDER_SAGA_STATE_DIR: ${file} is a file, not a folder (name a folder; it is made if missing)`,
      ],
    })
  })

  it('makes worker logs pretty on a terminal unless LOG_FORMAT says otherwise', () => {
    const format = (env: Record<string, string>, tty: boolean) => {
      const parsed = parseStartOptions([], env, tty)
      return parsed.ok ? parsed.options.logFormat : parsed.problems
    }
    expect([format({}, true), format({}, false), format({ LOG_FORMAT: 'json' }, true)]).toStrictEqual([
      'pretty',
      undefined,
      'json',
    ])
  })
})

describe('nodeBundleProblems', () => {
  it('names the Node bundles --runtime=node would run and does not find, and the command that builds them', () => {
    const root = join(tmp, 'node-bundles')
    mkdirSync(join(root, 'dist', 'node'), { recursive: true })
    for (const w of ['gateway', 'order', 'inventory', 'payment', 'analytics'])
      writeFileSync(join(root, 'dist', 'node', `${w}.js`), '')
    expect(nodeBundleProblems({ runtime: 'bun' }, join(tmp, 'nowhere'))).toStrictEqual([])
    expect(nodeBundleProblems({ runtime: 'node' }, root)).toStrictEqual([
      '--runtime=node runs the Node bundles, and dist/node/console.js is missing: run `npm run start:node` (it builds them first) or `npm run build:node`',
    ])
    writeFileSync(join(root, 'dist', 'node', 'console.js'), '')
    expect(nodeBundleProblems({ runtime: 'node' }, root)).toStrictEqual([])
  })
})

describe('currencyProblem', () => {
  it("refuses an intake currency that is not the stock's, and allows either one alone or both the same", () => {
    expect(currencyProblem({ ORDER_CURRENCY: 'EUR', INVENTORY_CURRENCY: 'USD' })).toBe(
      'ORDER_CURRENCY (EUR) and INVENTORY_CURRENCY (USD) differ: the stock is priced and charged in ' +
        'INVENTORY_CURRENCY, so set one of them only (npm start gives it to both), or both the same',
    )
    for (const env of [
      {},
      { ORDER_CURRENCY: 'EUR' },
      { INVENTORY_CURRENCY: 'EUR' },
      { ORDER_CURRENCY: 'EUR', INVENTORY_CURRENCY: 'EUR' },
      { ORDER_CURRENCY: '', INVENTORY_CURRENCY: 'EUR' },
    ])
      expect(currencyProblem(env)).toBeUndefined()
  })

  it('gives the one currency set to both the intake and the inventory', () => {
    for (const env of [
      { ORDER_CURRENCY: 'EUR' },
      { INVENTORY_CURRENCY: 'EUR' },
      { ORDER_CURRENCY: 'EUR', INVENTORY_CURRENCY: '' },
    ]) {
      expect(shopCurrency('order', env)).toStrictEqual({ ORDER_CURRENCY: 'EUR' })
      expect(shopCurrency('inventory', env)).toStrictEqual({ INVENTORY_CURRENCY: 'EUR' })
    }
    expect(shopCurrency('inventory', {})).toStrictEqual({})
  })
})

describe('checkPorts', () => {
  it('names a busy port and its variable, or falls back when the variable is unset and may', async () => {
    const server: Server = createServer()
    await new Promise<void>((done) => server.listen(0, '127.0.0.1', done))
    const port = (server.address() as { port: number }).port
    try {
      const plan = await checkPorts([
        {
          what: 'gateway',
          host: '127.0.0.1',
          setting: { variable: 'GATEWAY_PORT', port, mayFallBack: false },
        },
      ])
      expect(plan.problems).toStrictEqual([
        `port ${port} is in use (GATEWAY_PORT, gateway): another npm start may be running; stop it or set GATEWAY_PORT`,
      ])
      const fallback = await checkPorts([
        {
          what: 'nats-server',
          host: '127.0.0.1',
          setting: { variable: 'NATS_PORT', port, mayFallBack: true },
        },
      ])
      expect(fallback.problems).toStrictEqual([])
      expect(fallback.fallbacks.map((f) => f.note)).toStrictEqual([
        `port ${port} (nats-server) is in use: taking a free port instead (set NATS_PORT to choose one)`,
      ])
    } finally {
      await new Promise((done) => server.close(done))
    }
  })
})

describe('operatorEnv', () => {
  it('takes NATS_URL from the environment, else the default when no stack runs', () => {
    const dir = join(tmp, 'no-stack')
    expect(operatorEnv({ ORDER_SAGA_STATE_DIR: dir, NATS_URL: 'nats://elsewhere:4222' })).toStrictEqual({
      env: { ORDER_SAGA_STATE_DIR: dir, NATS_URL: 'nats://elsewhere:4222' },
      natsUrlFrom: 'NATS_URL',
    })
    expect(operatorEnv({ ORDER_SAGA_STATE_DIR: dir }).env['NATS_URL']).toBe('nats://127.0.0.1:4222')
  })

  it("takes a running stack's identity for a setting given empty (an empty value is unset)", async () => {
    const dir = join(tmp, 'running')
    mkdirSync(dir, { recursive: true })
    const start = spawn('bash', ['-c', `exec -a scripts/${START_MARKER} sleep 30`], { stdio: 'ignore' })
    try {
      await new Promise((r) => setTimeout(r, 200))
      writeEnvFile(dir, { NATS_NKEY_SEED_FILE: '/run/admin-seed', API_KEY: 'sk_1' })
      writeStackFile(dir, {
        ...{ pid: start.pid ?? 0, startedAt: new Date().toISOString(), runtime: 'bun' },
        ...{ natsUrl: 'nats://127.0.0.1:14999', wsUrl: null, natsServerPid: null, http: {}, workers: {} },
      })
      const { env } = operatorEnv({ ORDER_SAGA_STATE_DIR: dir, NATS_NKEY_SEED_FILE: '', NATS_URL: '' })
      expect(env).toMatchObject({
        NATS_NKEY_SEED_FILE: '/run/admin-seed',
        NATS_URL: 'nats://127.0.0.1:14999',
      })
      // A seed given by hand, in either form, replaces the stack's: never "set both".
      const given = operatorEnv({
        ORDER_SAGA_STATE_DIR: dir,
        NATS_URL: 'nats://127.0.0.1:14999',
        NATS_NKEY_SEED: 'SU…',
      })
      expect(given.env['NATS_NKEY_SEED_FILE']).toBeUndefined()
      expect(given.env).toMatchObject({ NATS_NKEY_SEED: 'SU…', API_KEY: 'sk_1' })
    } finally {
      start.kill('SIGKILL')
    }
    await new Promise((r) => start.once('exit', r))
  })
})

/** A recorded stack of an npm start (`pid`) with one worker, the gateway, and no nats-server of its own. */
function stackOf(pid: number, gatewayPid: number) {
  return {
    pid,
    startedAt: new Date().toISOString(),
    runtime: 'bun' as const,
    natsUrl: 'nats://127.0.0.1:4222',
    wsUrl: null,
    natsServerPid: null,
    http: {},
    workers: { gateway: gatewayPid },
  }
}

describe('leftoverProblem', () => {
  it('names the processes a killed npm start left running, and nothing once they are gone', async () => {
    const dir = join(tmp, 'leftover')
    mkdirSync(dir, { recursive: true })
    // A process whose command line names a worker's entry, as the stack's gateway.
    const gateway = spawn('bash', ['-c', 'exec -a workers/gateway/main.ts sleep 30'], { stdio: 'ignore' })
    try {
      await new Promise((r) => setTimeout(r, 200))
      const stack = stackOf(2 ** 22 + 1, gateway.pid ?? 0) // no such npm start: it was killed
      writeStackFile(dir, stack)
      expect(leftoverProblem(dir)).toBe(
        `an earlier npm start from ${dir} (pid ${stack.pid}) is gone but left gateway pid ${gateway.pid} running: stop them (kill those pids)`,
      )
    } finally {
      gateway.kill('SIGKILL')
    }
    await new Promise((r) => gateway.once('exit', r))
    expect(leftoverProblem(dir)).toBeUndefined()
  })
})

describe('wipeStateDir', () => {
  it('refuses while the stack runs, and names the pid that stops it: its npm start, not a worker', async () => {
    const dir = join(tmp, 'running')
    mkdirSync(dir, { recursive: true })
    const start = spawn('bash', ['-c', 'exec -a scripts/start.ts sleep 30'], { stdio: 'ignore' })
    const gateway = spawn('bash', ['-c', 'exec -a workers/gateway/main.ts sleep 30'], { stdio: 'ignore' })
    try {
      await new Promise((r) => setTimeout(r, 200))
      writeStackFile(dir, stackOf(start.pid ?? 0, gateway.pid ?? 0))
      expect(() => wipeStateDir(dir)).toThrow(
        `a stack is running from ${dir} (npm start pid ${start.pid}, gateway pid ${gateway.pid}): stop it first (Ctrl-C in its terminal, or kill ${start.pid}, its npm start, which stops the rest)`,
      )
    } finally {
      start.kill('SIGKILL')
      gateway.kill('SIGKILL')
    }
    await Promise.all([start, gateway].map((p) => new Promise((r) => p.once('exit', r))))
  })

  it('removes a folder npm start wrote, and refuses one it did not', () => {
    const ours = join(tmp, 'ours')
    mkdirSync(join(ours, 'jetstream'), { recursive: true })
    writeFileSync(join(ours, 'nats-server.conf'), '')
    expect(wipeStateDir(ours)).toBe('wiped')
    expect(wipeStateDir(ours)).toBe('absent')
    const foreign = join(tmp, 'foreign')
    mkdirSync(foreign)
    writeFileSync(join(foreign, 'thesis.tex'), '')
    expect(() => wipeStateDir(foreign)).toThrow('is not a folder npm start wrote')
  })
})

it('natsServerConfig listens where asked, with the JetStream store, a WebSocket listener, monitoring on loopback and the authorization', () => {
  const authorization = 'authorization {\n  users: []\n}'
  const settings = {
    storeDir: '/s',
    host: '0.0.0.0',
    port: 4222,
    wsPort: -1,
    monitorPort: 8222,
    authorization,
  }
  expect(natsServerConfig(settings)).toBe(
    [
      'server_name: "local"',
      'listen: "0.0.0.0:4222"',
      'jetstream {\n  store_dir: "/s"\n  sync_interval: 1s\n}',
      'websocket {\n  listen: "0.0.0.0:-1"\n  no_tls: true\n}',
      'http: "127.0.0.1:8222"',
      authorization,
      '',
    ].join('\n'),
  )
})

describe('what a worker inherits and which NATS_URL counts', () => {
  it('a worker inherits no secret, no _FILE of one and no operator setting from npm start', () => {
    const env = {
      PATH: '/bin',
      LOG_LEVEL: 'debug',
      NATS_REPLICAS: '3',
      API_KEY: 'k',
      ADMIN_API_KEY: 'a',
      GATEWAY_SECRET_KEY: 'g',
      GATEWAY_SECRET_KEY_FILE: '/x',
      API_KEYS: 'c:client:00',
      NATS_NKEY_SEED_FILE: '/seed',
      NATS_URL: 'nats://127.0.0.1:4222',
      ORDER_SAGA_NATS: 'own',
    }
    expect(inheritedEnv(env)).toStrictEqual({ PATH: '/bin', LOG_LEVEL: 'debug', NATS_REPLICAS: '3' })
    // Said, not silently dropped: every secret but the three keys npm start takes.
    expect(new Set(ignoredSecrets(env))).toStrictEqual(
      new Set(['GATEWAY_SECRET_KEY_FILE', 'API_KEYS', 'NATS_NKEY_SEED_FILE']),
    )
    // What sourcing the state folder's env file exported is not said.
    expect(ignoredSecrets(env, { NATS_NKEY_SEED_FILE: '/seed' })).not.toContain('NATS_NKEY_SEED_FILE')
  })

  it("ignores a NATS_URL sourced from this state folder's env file of its own server, not another", () => {
    const dir = mkdtempSync(join(tmpdir(), 'start-own-url-'))
    try {
      writeEnvFile(dir, { NATS_URL: 'nats://127.0.0.1:4222', ORDER_SAGA_NATS: 'own' })
      const parse = (url: string, marker = 'own') => {
        const parsed = parseStartOptions(
          [],
          { ORDER_SAGA_STATE_DIR: dir, NATS_URL: url, ORDER_SAGA_NATS: marker },
          false,
        )
        if (!parsed.ok) throw new Error(parsed.problems.join('; '))
        return parsed.options.natsUrl
      }
      expect(parse('nats://127.0.0.1:4222')).toBeUndefined()
      expect(parse('nats://elsewhere:4222')).toBe('nats://elsewhere:4222')
      writeEnvFile(dir, { NATS_URL: 'nats://127.0.0.1:4222', ORDER_SAGA_NATS: 'outside' })
      expect(parse('nats://127.0.0.1:4222')).toBe('nats://127.0.0.1:4222')
      // Sourced, then the folder wiped (npm run reset): still its own server, not an outside one.
      rmSync(dir, { recursive: true, force: true })
      expect(parse('nats://127.0.0.1:4222')).toBeUndefined()
      expect(parse('nats://127.0.0.1:4222', 'outside')).toBe('nats://127.0.0.1:4222')
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })
})

describe('the supervisor when a worker cannot be spawned', () => {
  it('reports it as an exit (fatal at start-up) and stops at once', async () => {
    const fatal: string[] = []
    const supervisor = new Supervisor({
      log: () => undefined,
      onFatal: (name, how) => fatal.push(`${name}: ${how}`),
    })
    supervisor.start({
      name: 'ghost',
      command: { cmd: join(tmpdir(), 'no-such-command-here'), args: [] },
      env: {},
      cwd: tmpdir(),
    })
    await waitFor(() => fatal.length > 0, { timeoutMs: 5_000, message: 'the fatal report' })
    expect(fatal).toStrictEqual([expect.stringMatching(/^ghost: could not start \(.*ENOENT.*\)$/)])
    const started = Date.now()
    await supervisor.stop(15_000)
    expect(Date.now() - started).toBeLessThan(2_000)
  })
})

describe('the supervisor at a stop', () => {
  it('stops a stopLast worker only once the others have exited', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'stop-order-'))
    try {
      // Each records when its SIGTERM came and when it left; the first takes 300 ms to leave.
      const worker = (name: string, lingerMs: number) => ({
        name,
        command: {
          cmd: process.execPath,
          args: [
            '-e',
            `const fs=require('node:fs');const f=${JSON.stringify(join(dir, name))};` +
              `process.on('SIGTERM',()=>{fs.appendFileSync(f,'term '+Date.now()+'\\n');` +
              `setTimeout(()=>{fs.appendFileSync(f,'exit '+Date.now()+'\\n');process.exit(0)},${lingerMs})});` +
              `fs.writeFileSync(f,'');setInterval(()=>{},1000)`,
          ],
        },
        env: {},
        cwd: dir,
      })
      const supervisor = new Supervisor({ log: () => undefined, onFatal: () => undefined })
      supervisor.start({ ...worker('gateway', 0), stopLast: true })
      supervisor.start(worker('payment', 300))
      await waitFor(() => existsSync(join(dir, 'gateway')) && existsSync(join(dir, 'payment')), {
        timeoutMs: 5_000,
        message: 'both workers running',
      })
      await supervisor.stop(10_000)
      const times = (name: string) =>
        Object.fromEntries(
          readFileSync(join(dir, name), 'utf8')
            .trim()
            .split('\n')
            .map((line) => line.split(' '))
            .map(([what, at]) => [what, Number(at)]),
        ) as { term: number; exit: number }
      const [payment, gateway] = [times('payment'), times('gateway')]
      expect(gateway.term).toBeGreaterThanOrEqual(payment.exit)
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })
})

describe('the ready banner', () => {
  const parsed = parseStartOptions([], { ORDER_SAGA_STATE_DIR: '/tmp/stack-state' }, false)
  if (!parsed.ok) throw new Error(parsed.problems.join('; '))
  const ctx = createContext(parsed.options, { url: 'nats://127.0.0.1:4222', wsUrl: null, monitorUrl: null })
  Object.assign(ctx.operatorEnv, {
    API_KEY: 'client-key-value',
    ADMIN_API_KEY: 'admin-key-value',
    GATEWAY_SECRET_KEY: 'gateway-key-value',
  })
  const secrets = ['client-key-value', 'admin-key-value', 'gateway-key-value']

  it('shows the keys on a terminal', () => {
    const text = banner(ctx, { showKeys: true }).join('\n')
    for (const secret of secrets) expect(text).toContain(secret)
  })

  it('names the env file instead when written to a file or a pipe', () => {
    const text = banner(ctx, { showKeys: false }).join('\n')
    for (const secret of secrets) expect(text).not.toContain(secret)
    expect(text).toContain('API_KEY=(in /tmp/stack-state/env)')
  })

  it("exports every service's URL, and a state folder of its own, which the operator commands it names need", () => {
    expect(ctx.operatorEnv).toMatchObject({
      ORDER_URL: 'http://127.0.0.1:3000',
      INVENTORY_URL: 'http://127.0.0.1:3001',
      PAYMENT_URL: 'http://127.0.0.1:3002',
      GATEWAY_URL: 'http://127.0.0.1:3003',
      ANALYTICS_URL: 'http://127.0.0.1:3005',
      CONSOLE_URL: 'http://127.0.0.1:3006',
      ORDER_SAGA_STATE_DIR: '/tmp/stack-state',
    })
    const text = banner(ctx, { showKeys: false }).join('\n')
    expect(text).toContain('ORDER_SAGA_STATE_DIR=/tmp/stack-state npm run reset while stopped')
    expect(text).toContain('ORDER_SAGA_STATE_DIR=/tmp/stack-state npm run dlq -- list')
    // None of them reaches a worker.
    expect(inheritedEnv({ ...ctx.operatorEnv, PATH: '/bin' })).toStrictEqual({
      PATH: '/bin',
      ORDER_SAGA_STATE_DIR: '/tmp/stack-state',
    })
    const own = parseStartOptions([], {}, false)
    if (!own.ok) throw new Error(own.problems.join('; '))
    const plain = createContext(own.options, { url: 'nats://127.0.0.1:4222', wsUrl: null, monitorUrl: null })
    expect(plain.operatorEnv['ORDER_SAGA_STATE_DIR']).toBeUndefined()
    expect(banner(plain, { showKeys: false }).join('\n')).toContain(
      'operator commands find this stack by themselves',
    )
  })
})

describe("the gateway sandbox's ledger", () => {
  it('is a file in the state folder on every runtime, Deno included (its workers may write there)', () => {
    for (const runtime of ['bun', 'node', 'deno']) {
      const parsed = parseStartOptions(
        [`--runtime=${runtime}`],
        { ORDER_SAGA_STATE_DIR: '/tmp/stack-state' },
        false,
      )
      if (!parsed.ok) throw new Error(parsed.problems.join('; '))
      const ctx = createContext(parsed.options, {
        url: 'nats://127.0.0.1:4222',
        wsUrl: null,
        monitorUrl: null,
      })
      expect(workerEnv('gateway', ctx)['GATEWAY_LEDGER_FILE']).toBe(
        join(ctx.stateDir, 'gateway-ledger.jsonl'),
      )
    }
  })
})

describe('loadStackSecrets', () => {
  it('refuses keys no service would take, naming each, and saves nothing', async () => {
    const dir = join(tmp, 'bad-keys')
    const attempt = (env: Record<string, string>) =>
      loadStackSecrets(dir, env).then(
        () => [],
        (error: unknown) => (error instanceof StackSecretsError ? error.problems : [String(error)]),
      )
    expect(await attempt({ API_KEY: 'key with space', GATEWAY_SECRET_KEY: 'x'.repeat(600) })).toStrictEqual([
      'API_KEY: must be visible ASCII characters without spaces',
      'GATEWAY_SECRET_KEY: must be at most 512 characters',
    ])
    expect(
      await attempt({ API_KEY: 'sk_same_0123456789abcdef', ADMIN_API_KEY: 'sk_same_0123456789abcdef' }),
    ).toStrictEqual(["API_KEY and ADMIN_API_KEY are the same key: a client key must not be the admin's"])
    expect(existsSync(secretsFile(dir))).toBe(false)
    // Good keys are saved; one equal to the admin key saved before is refused too.
    const saved = await loadStackSecrets(dir, { API_KEY: 'sk_client_0123456789abcdef' })
    expect(saved.apiKeys['client']?.key).toBe('sk_client_0123456789abcdef')
    expect(await attempt({ API_KEY: saved.apiKeys['admin']?.key ?? '' })).toStrictEqual([
      "API_KEY and ADMIN_API_KEY are the same key (one of them as saved before): a client key must not be the admin's",
    ])
    expect((await loadStackSecrets(dir, {})).apiKeys['client']?.key).toBe('sk_client_0123456789abcdef')
  })
})
