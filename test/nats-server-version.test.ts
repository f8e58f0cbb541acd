// Workers refuse a nats-server older than MIN_NATS_SERVER_VERSION at start. No
// old server can be run here, so "old" is a socket that speaks the first steps
// of the NATS protocol (INFO with version 2.10.27, PONG) like one would; "new"
// is the real server the global setup resolved.
import { createServer, type Server, type Socket } from 'node:net'
import type { AddressInfo } from 'node:net'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { jetstreamManager, StorageType } from '@nats-io/jetstream'
import { Kvm } from '@nats-io/kv'
import { connect } from '@nats-io/transport-node'
import * as v from 'valibot'
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest'
import { BUCKETS } from '../schemas/subjects.ts'
import { loadConfig } from '../shared/config/load-config.ts'
import { natsSettings } from '../shared/config/nats-settings.ts'
import { startNatsRuntime } from '../shared/nats/runtime.ts'
import {
  compareVersions,
  JetStreamDisabledError,
  MIN_NATS_SERVER_VERSION,
  NatsServerTooOldError,
} from '../shared/nats/server-version.ts'
import { createLogger } from '../shared/observability/logger.ts'
import { createMetrics } from '../shared/observability/metrics.ts'
import { natsServerBin, startNatsServer } from './harness/nats-server.ts'
import { createLineBuffer } from './harness/lines.ts'
import { spawnNatsServer, stopNatsProcess } from './harness/nats-process.ts'
import { testSecrets, workerSecrets } from './harness/test-secrets.ts'
import { provisionNats } from './support/provision.ts'
import { spawnService } from './harness/process.ts'
import { waitFor } from './harness/wait-for.ts'
import { runProvision } from '../workers/provision/main.ts'

const ROOT = join(import.meta.dirname, '..')

/** The provision step run in this process, logging silenced: its exit code and what it wrote to stderr. */
async function provisionWith(env: Record<string, string>): Promise<{ code: number; lines: string[] }> {
  const stderr = vi.spyOn(process.stderr, 'write').mockImplementation(() => true)
  try {
    const code = await runProvision({ ...env, LOG_LEVEL: 'silent' })
    return { code, lines: stderr.mock.calls.map((c) => String(c[0])) }
  } finally {
    stderr.mockRestore()
  }
}

function withoutSeed(env: Record<string, string>): Record<string, string> {
  const { NATS_NKEY_SEED: _seed, ...rest } = env
  return rest
}

/** A nats-server of the given configuration lines (`dir`: its folder), without the harness's own settings. */
async function plainServer(lines: (dir: string) => string[]) {
  const dir = await mkdtemp(join(tmpdir(), 'nats-plain-'))
  const configFile = join(dir, 'nats.conf')
  await writeFile(configFile, `${lines(dir).join('\n')}\n`)
  const proc = await spawnNatsServer({
    bin: await natsServerBin(),
    configFile,
    cwd: dir,
    log: createLineBuffer(),
    websocket: false,
    monitor: false,
    timeoutMs: 10_000,
  }).catch(async (error: unknown) => {
    await rm(dir, { recursive: true, force: true })
    throw error
  })
  return {
    proc,
    async [Symbol.asyncDispose]() {
      await stopNatsProcess(proc, 'SIGTERM', 5_000)
      await rm(dir, { recursive: true, force: true })
    },
  }
}

/** Says it is nats-server `version` and answers PING; counts connections still open. */
async function fakeServer(version: string): Promise<{ url: string; open: () => number; server: Server }> {
  const sockets = new Set<Socket>()
  const server = createServer((socket) => {
    sockets.add(socket)
    socket.once('close', () => sockets.delete(socket))
    socket.on('error', () => undefined)
    const { port } = server.address() as AddressInfo
    const info = { server_id: 'FAKE', server_name: 'fake', version, proto: 1, host: '127.0.0.1', port }
    socket.write(
      `INFO ${JSON.stringify({ ...info, headers: true, max_payload: 1_048_576, jetstream: true })}\r\n`,
    )
    socket.on('data', (chunk) => {
      for (const _ of chunk.toString().matchAll(/PING\r\n/g)) socket.write('PONG\r\n')
    })
  })
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done))
  const { port } = server.address() as AddressInfo
  return { url: `nats://127.0.0.1:${port}`, open: () => sockets.size, server }
}

const config = (url: string) =>
  loadConfig(v.object(natsSettings), { NATS_URL: url, NATS_CONNECT_TIMEOUT_MS: '5000' })
const deps = () => ({
  connect,
  logger: createLogger({ service: 't', level: 'silent' }),
  metrics: createMetrics('t'),
})

let old: Awaited<ReturnType<typeof fakeServer>>
beforeAll(async () => {
  old = await fakeServer('2.10.27')
})
afterAll(() => new Promise<void>((done) => old.server.close(() => done())))

describe('start-up check of the server version', () => {
  it('a fake INFO is what the client reads as the server version', async () => {
    const nc = await connect({ servers: old.url })
    expect(nc.info?.version).toBe('2.10.27')
    await nc.close()
  })

  it('startNatsRuntime refuses a 2.10.27 server with NatsServerTooOldError and closes the connection', async () => {
    const failure = await startNatsRuntime('t', config(old.url), deps()).catch((err: unknown) => err)
    expect(failure).toBeInstanceOf(NatsServerTooOldError)
    expect(failure).toMatchObject({ found: '2.10.27', needed: MIN_NATS_SERVER_VERSION })
    await waitFor(() => old.open() === 0, { timeoutMs: 5_000, message: 'the client to hang up' })
  })

  it('startNatsRuntime starts against the real server', async () => {
    await using server = await startNatsServer({ websocket: false })
    await provisionNats([server.url])
    const rt = await startNatsRuntime(
      't',
      { ...config(server.url), NATS_NKEY_SEED: testSecrets().nats.inventory.seed },
      deps(),
    )
    try {
      expect(compareVersions(rt.nc.info?.version ?? '', MIN_NATS_SERVER_VERSION)).toBeGreaterThanOrEqual(0)
      expect((await rt.jsm.streams.info('ORDERS')).config.name).toBe('ORDERS')
    } finally {
      await rt.nc.close()
    }
  })

  it('a worker process exits 1 naming the version found and the one needed', async () => {
    const failure = await spawnService({
      cmd: join(ROOT, 'node_modules', '.bin', 'bun'),
      args: ['run', 'workers/inventory/main.ts'],
      cwd: ROOT,
      env: {
        // Its settings but no NATS identity: the fake server asks for none.
        ...withoutSeed(await workerSecrets('inventory')),
        NATS_URL: old.url,
        PORT: '0',
        NATS_CONNECT_TIMEOUT_MS: '5000',
        LOG_LEVEL: 'error',
      },
      readyLine: /listening/,
      readyTimeoutMs: 30_000,
    }).catch((err: unknown) => err)
    expect(String(failure)).toMatch(/exited \(code 1/)
    expect(String(failure)).toContain(
      `inventory: nats-server 2.10.27 at 127.0.0.1:${new URL(old.url).port} is too old: this project needs nats-server >= 2.12.0`,
    )
  })

  it('the provision step refuses a 2.10.27 server: exit code 1 and the one line', async () => {
    const { code, lines } = await provisionWith({ NATS_URL: old.url, NATS_CONNECT_TIMEOUT_MS: '5000' })
    expect(code).toBe(1)
    expect(lines).toStrictEqual([
      `provision: nats-server 2.10.27 at 127.0.0.1:${new URL(old.url).port} is too old: this project needs nats-server >= 2.12.0 (docs/nats-server.md)\n`,
    ])
  })

  it('the provision step says a malformed seed in one line, no stack', async () => {
    const bad = `${testSecrets().nats.admin.seed.slice(0, -8)}AAAAAAAA`
    const { code, lines } = await provisionWith({ NATS_URL: old.url, NATS_NKEY_SEED: bad })
    expect(code).toBe(1)
    expect(lines).toStrictEqual(['provision: NATS_NKEY_SEED: not an NKEY seed (nkeys: invalid checksum)\n'])
  })

  it('the provision step names the settings in one line when nats-server refuses the topology', async () => {
    await using server = await startNatsServer({ websocket: false })
    const { code, lines } = await provisionWith({
      NATS_URL: server.url,
      NATS_NKEY_SEED: testSecrets().nats.admin.seed,
      NATS_REPLICAS: '3',
    })
    expect(code).toBe(1)
    expect(lines).toHaveLength(1)
    expect(lines[0]).toMatch(
      /^provision: nats-server refused the topology: .*replicas.*; NATS_REPLICAS must be 1 /,
    )
  })

  it('the provision step refuses a bucket cap below what the bucket holds, in one line, until allowed', async () => {
    await using server = await startNatsServer({ websocket: false })
    const env = { NATS_URL: server.url, NATS_NKEY_SEED: testSecrets().nats.admin.seed }
    expect((await provisionWith(env)).code).toBe(0)
    const nc = await connect(server.connectOptions())
    const jsm = await jetstreamManager(nc)
    const maxBytesOf = async (stream: string) => (await jsm.streams.info(stream)).config.max_bytes
    try {
      for (const bucket of [BUCKETS.idempotency, BUCKETS.orderStatus]) {
        const kv = await new Kvm(nc).open(bucket)
        for (const key of ['a', 'b', 'c']) await kv.put(key, new Uint8Array(700 * 1024))
      }
      const before = await maxBytesOf('ORDERS')
      // Two buckets too small, and a change to ORDERS that alone would be fine.
      const lowered = {
        ...env,
        KV_IDEMPOTENCY_MAX_BYTES: String(1024 * 1024),
        KV_ORDER_STATUS_MAX_BYTES: String(1024 * 1024),
        STREAM_MAX_BYTES: String(before + 1),
      }
      const refused = await provisionWith(lowered)
      expect(refused.code).toBe(1)
      expect(refused.lines).toHaveLength(1)
      expect(refused.lines[0]).toMatch(
        /^provision: bucket order-status holds \d+ bytes; KV_ORDER_STATUS_MAX_BYTES=1048576 is below that \(every write would be refused\); bucket order-idempotency holds \d+ bytes; KV_IDEMPOTENCY_MAX_BYTES=1048576 is below that \(every write would be refused\): raise the setting, or set PROVISION_ALLOW_SHRINK=true/,
      )
      // Refused before anything changed: ORDERS keeps its cap.
      expect(await maxBytesOf('ORDERS')).toBe(before)
      expect((await provisionWith({ ...lowered, PROVISION_ALLOW_SHRINK: 'true' })).code).toBe(0)
      expect(await maxBytesOf('ORDERS')).toBe(before + 1)
      expect(await maxBytesOf(`KV_${BUCKETS.idempotency}`)).toBe(1024 * 1024)
    } finally {
      await nc.close()
    }
  })

  it('the provision step puts back what it changed when nats-server refuses a later bucket, and says so', async () => {
    await using server = await startNatsServer({ websocket: false })
    const env = { NATS_URL: server.url, NATS_NKEY_SEED: testSecrets().nats.admin.seed }
    expect((await provisionWith(env)).code).toBe(0)
    const nc = await connect(server.connectOptions())
    const jsm = await jetstreamManager(nc)
    const limitsOf = async (stream: string) => {
      const { max_bytes, max_age } = (await jsm.streams.info(stream)).config
      return { max_bytes, max_age }
    }
    try {
      const before = await limitsOf('ORDERS')
      // ORDERS's new cap and age are taken; then a bucket's cap no disk here holds (~100 TB) is refused.
      const refused = await provisionWith({
        ...env,
        STREAM_MAX_BYTES: String(before.max_bytes * 2),
        STREAM_MAX_AGE_MS: String(14 * 24 * 3_600_000),
        KV_ANALYTICS_WINDOWS_MAX_BYTES: '99999999999999',
      })
      expect(refused.code).toBe(1)
      expect(refused.lines).toHaveLength(1)
      expect(refused.lines[0]).toMatch(
        /^provision: nats-server refused the topology: bucket analytics-windows: .*; what the run had changed before it was put back \(ORDERS, DEADLINES[^)]*\); STREAM_MAX_BYTES and the KV_\*_MAX_BYTES settings must fit/,
      )
      expect(await limitsOf('ORDERS')).toStrictEqual(before)
    } finally {
      await nc.close()
    }
  })

  it("puts back what it changed when the console index's stream, the last made, is refused", async () => {
    await using server = await startNatsServer({ websocket: false, apiGuard: false })
    const env = { NATS_URL: server.url, NATS_NKEY_SEED: testSecrets().nats.admin.seed }
    expect((await provisionWith(env)).code).toBe(0)
    const nc = await connect(server.connectOptions())
    try {
      const jsm = await jetstreamManager(nc)
      const index = await jsm.streams.info('ORDER_INDEX')
      await jsm.streams.delete('ORDER_INDEX')
      await jsm.streams.add({ ...index.config, storage: StorageType.Memory })
      const before = (await jsm.streams.info('ORDERS')).config.max_bytes
      const refused = await provisionWith({ ...env, STREAM_MAX_BYTES: String(before * 2) })
      expect(refused.code).toBe(1)
      expect(refused.lines).toHaveLength(1)
      expect(refused.lines[0]).toMatch(
        /^provision: nats-server refused the topology: stream ORDER_INDEX: .*storage type.*; what the run had changed before it was put back \(ORDERS[^)]*\); a stream of that name/,
      )
      expect((await jsm.streams.info('ORDERS')).config.max_bytes).toBe(before)
    } finally {
      await nc.close()
    }
  })

  it('the provision step names a stream made otherwise, which nats-server cannot change, and what to do', async () => {
    await using server = await startNatsServer({ websocket: false, apiGuard: false })
    const nc = await connect(server.connectOptions())
    try {
      const jsm = await jetstreamManager(nc)
      await jsm.streams.add({ name: 'ORDERS', subjects: ['orders.>'], storage: StorageType.Memory })
      const { code, lines } = await provisionWith({
        NATS_URL: server.url,
        NATS_NKEY_SEED: testSecrets().nats.admin.seed,
      })
      expect(code).toBe(1)
      expect(lines).toHaveLength(1)
      expect(lines[0]).toMatch(
        /^provision: nats-server refused the topology: stream ORDERS: .*storage type.*; nothing had been changed before it; a stream of that name, or one on the same subjects, was not made by this provision step/,
      )
    } finally {
      await nc.close()
    }
  })

  it("the provision step run with a service's seed says in one line that it needs the admin identity", async () => {
    await using server = await startNatsServer({ websocket: false })
    const { code, lines } = await provisionWith({
      NATS_URL: server.url,
      NATS_NKEY_SEED: testSecrets().nats.console.seed,
      NATS_CONNECT_TIMEOUT_MS: '3000',
    })
    expect(code).toBe(1)
    expect(lines).toHaveLength(1)
    expect(lines[0]).toMatch(
      /^provision: nats-server refused this identity \(.*\): the provision step needs the admin identity's NATS_NKEY_SEED\n$/,
    )
  })

  it('the provision step and a worker say in one line, at once, that the server runs without JetStream', async () => {
    await using server = await plainServer(() => ['listen: "127.0.0.1:-1"'])
    const { proc } = server
    const url = `nats://127.0.0.1:${proc.port}`
    const started = performance.now()
    const { code, lines } = await provisionWith({ NATS_URL: url, NATS_CONNECT_TIMEOUT_MS: '20000' })
    expect(code).toBe(1)
    expect(lines).toStrictEqual([
      `provision: nats-server at 127.0.0.1:${proc.port} has JetStream disabled: start it with -js or a jetstream {} block (docs/nats-server.md)\n`,
    ])
    // Not after the connect deadline's retries: at once.
    expect(performance.now() - started).toBeLessThan(5_000)
    await expect(startNatsRuntime('t', config(url), deps())).rejects.toThrow(JetStreamDisabledError)
  })

  it("the provision step says in one line, at once, that the identity's account has no JetStream", async () => {
    const admin = testSecrets().nats.admin
    await using server = await plainServer((dir) => [
      'listen: "127.0.0.1:-1"',
      `jetstream { store_dir: ${JSON.stringify(join(dir, 'js'))} }`,
      `accounts { SHOP: { users: [{ nkey: ${JSON.stringify(admin.publicKey)} }] } }`,
    ])
    const { proc } = server
    const started = performance.now()
    const { code, lines } = await provisionWith({
      NATS_URL: `nats://127.0.0.1:${proc.port}`,
      NATS_NKEY_SEED: admin.seed,
      NATS_CONNECT_TIMEOUT_MS: '20000',
    })
    expect(code).toBe(1)
    expect(lines).toStrictEqual([
      `provision: nats-server at 127.0.0.1:${proc.port} has JetStream disabled for this identity's account: enable it for the account (jetstream: enabled in its accounts {} entry) (docs/nats-server.md)\n`,
    ])
    expect(performance.now() - started).toBeLessThan(5_000)
  })

  it('the provision step names the unreachable server in one line when it gives up', async () => {
    // A port nothing listens on: taken, then closed.
    const probe = createServer()
    await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve))
    const { port } = probe.address() as AddressInfo
    await new Promise((resolve) => probe.close(resolve))
    const { code, lines } = await provisionWith({
      NATS_URL: `nats://127.0.0.1:${port}`,
      NATS_CONNECT_TIMEOUT_MS: '300',
    })
    expect(code).toBe(1)
    expect(lines).toHaveLength(1)
    expect(lines[0]).toMatch(
      new RegExp(
        `^provision: could not connect to nats://127\\.0\\.0\\.1:${port} within 300 ms \\(NATS_URL, NATS_CONNECT_TIMEOUT_MS\\): \\S.*\\n$`,
      ),
    )
  })
})
