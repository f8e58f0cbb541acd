// Dead-letter replay by the event's owner (shared/nats/replay-delegate.ts), on
// a real nats-server: the owner republishes the stored original; a service
// refuses a dead letter it does not own; nobody answering is a replay error.
import { jetstream, jetstreamManager } from '@nats-io/jetstream'
import { connect } from '@nats-io/transport-node'
import { describe, expect, it } from 'vitest'
import { SUBJECTS } from '../schemas/subjects.ts'
import {
  DeadLetterNotFoundError,
  DeadLetterNotReplayableError,
  DeadLetterReplayError,
  listDeadLetters,
} from '../shared/nats/dead-letter-admin.ts'
import { replaySubjectOf } from '../shared/nats/discovery-subjects.ts'
import { replayerOf, requestReplay, serveReplays } from '../shared/nats/replay-delegate.ts'
import * as v from 'valibot'
import { loadConfig } from '../shared/config/load-config.ts'
import { natsSettings } from '../shared/config/nats-settings.ts'
import { connectNats } from '../shared/nats/connect.ts'
import { startNatsRuntime } from '../shared/nats/runtime.ts'
import { createMetrics } from '../shared/observability/metrics.ts'
import { permissionViolations } from './harness/lines.ts'
import { testSecrets } from './harness/test-secrets.ts'
import { provisionNats } from './support/provision.ts'
import { createLogger } from '../shared/observability/logger.ts'
import { startNatsServer } from './harness/nats-server.ts'
import { waitFor } from './harness/wait-for.ts'
import { logger, ORDERS, orderCreated, startDeadLetterFixture } from './support/dead-letter-fixture.ts'

describe('replays by the owner of the event', () => {
  it('the owner replays its event from ORDERS; another service refuses it; an unknown id is not found', async () => {
    await using f = await startDeadLetterFixture()
    const worker = await f.worker('operator')
    await f.capture('operator')
    const seq = await f.publishOrder(orderCreated(), 'corr-delegate')
    ;(await worker.next({ expires: 2_000 }))?.term('bad data')
    const [letter] = await waitFor(
      async () => {
        const found = await listDeadLetters(f.js, f.jsm)
        return found.length === 1 ? found : undefined
      },
      { message: 'one dead letter' },
    )
    if (letter === undefined) throw new Error('no dead letter')
    expect(replayerOf(letter)).toBe('order')

    const services = (['order', 'payment'] as const).map((service) =>
      serveReplays({ nc: f.nc, js: f.js, jsm: f.jsm, service, logger, timeoutMs: 2_000 }),
    )
    try {
      await expect(requestReplay(f.nc, 'payment', letter.id, 2_000)).rejects.toThrow(
        new DeadLetterNotReplayableError(
          `dead letter ${letter.id} (${SUBJECTS.orderCreated}) is not payment's to replay: order replays it`,
        ),
      )
      const replayed = await requestReplay(f.nc, 'order', letter.id, 2_000)
      expect(replayed).toMatchObject({ subject: SUBJECTS.orderCreated, stream: ORDERS, duplicate: false })
      const copy = await f.jsm.streams.getMessage(ORDERS, { seq: replayed.seq })
      const original = await f.jsm.streams.getMessage(ORDERS, { seq })
      expect(copy?.string()).toBe(original?.string())
      await expect(requestReplay(f.nc, 'order', 999_999, 2_000)).rejects.toBeInstanceOf(
        DeadLetterNotFoundError,
      )
    } finally {
      await Promise.all(services.map((s) => s.stop()))
    }
    // A request whose reply subject is not an inbox (one of the owner's own
    // records, say) is not answered, nor acted on: the owner may write there.
    const owner = serveReplays({ nc: f.nc, js: f.js, jsm: f.jsm, service: 'order', logger, timeoutMs: 2_000 })
    try {
      const hijacked = 'orders.hijacked.record'
      const written: string[] = []
      const watch = f.nc.subscribe(hijacked, { callback: (_error, msg) => void written.push(msg.string()) })
      f.nc.publish(replaySubjectOf('order'), JSON.stringify({ id: letter.id }), { reply: hijacked })
      await f.nc.flush()
      await new Promise((resolve) => setTimeout(resolve, 500))
      watch.unsubscribe()
      expect(written).toStrictEqual([])
      // An inbox still gets its answer.
      await expect(requestReplay(f.nc, 'order', 999_999, 2_000)).rejects.toBeInstanceOf(
        DeadLetterNotFoundError,
      )
    } finally {
      await owner.stop()
    }
    // Nobody answers for inventory here: a replay error, not a hang.
    const none = await requestReplay(f.nc, 'inventory', letter.id, 500).catch((error: unknown) => error)
    expect(none).toBeInstanceOf(DeadLetterReplayError)
    expect(String(none)).toMatch(/no inventory service answers replays .*nothing was replayed/)
  })
})

describe('an identity without replay rights (the edge intake, order-edge)', () => {
  it('says once, as a warning, that it takes no replays: no error line', async () => {
    await using server = await startNatsServer({ websocket: false })
    const lines: { level: string; msg: string }[] = []
    const captured = createLogger({
      service: 'order',
      level: 'debug',
      format: 'json',
      destination: {
        write: (line: string) => void lines.push(JSON.parse(line) as { level: string; msg: string }),
      },
    })
    const { nc } = await connectNats({
      connect,
      servers: [server.url],
      name: 'order',
      logger: captured,
      maxWaitMs: 5_000,
      options: server.connectOptions('order-edge'),
    })
    const js = jetstream(nc)
    const jsm = await jetstreamManager(nc, { checkAPI: false })
    const replays = serveReplays({ nc, js, jsm, service: 'order', logger: captured, timeoutMs: 2_000 })
    try {
      await waitFor(() => lines.some((l) => l.level === 'warn'), { message: 'the warning' })
      await nc.flush()
      expect(
        lines.filter((l) => ['warn', 'error', 'fatal'].includes(l.level)).map((l) => [l.level, l.msg]),
      ).toStrictEqual([
        [
          'warn',
          "this identity may not take dead-letter replays: the console's replays of these events are answered only by an instance whose identity may (set DEAD_LETTER_REPLAYS=off where that is intended)",
        ],
      ])
    } finally {
      await replays.stop()
      await nc.close()
    }
  })
})

describe('DEAD_LETTER_REPLAYS', () => {
  it.each([
    ['off', 0],
    ['on', 1],
  ] as const)(
    'the order service as order-edge with %s: %i subscription refused by the server',
    async (setting, refused) => {
      await using server = await startNatsServer({ websocket: false })
      await provisionNats([server.url])
      const config = loadConfig(v.object(natsSettings), {
        NATS_URL: server.url,
        NATS_CONNECT_TIMEOUT_MS: '5000',
        NATS_NKEY_SEED: testSecrets().nats['order-edge'].seed,
        DEAD_LETTER_REPLAYS: setting,
      })
      const rt = await startNatsRuntime('order', config, {
        connect,
        logger: createLogger({ service: 'order', level: 'silent' }),
        metrics: createMetrics('order'),
      })
      try {
        await rt.nc.flush()
        // The server logs a refusal as it sends it: give the line a moment.
        await new Promise((resolve) => setTimeout(resolve, 200))
        expect(permissionViolations(server.log())).toHaveLength(refused)
      } finally {
        await rt.nc.close()
      }
    },
  )
})
