/*
 * The order store for runtimes that cannot keep a NATS connection across
 * requests (Cloudflare Workers): every call connects, does its work on the
 * usual NATS order store, and closes. Web-standard APIs only. The whole
 * call, connect included, is bounded by `timeoutMs`; a dead NATS is a 503.
 */
import { jetstream, jetstreamManager } from '@nats-io/jetstream'
import { Kvm, type KV } from '@nats-io/kv'
import type { NatsConnection } from '@nats-io/nats-core'
import { BUCKETS, STREAMS } from '../../schemas/subjects.ts'
import type { Readiness } from '../../shared/http/observability-routes.ts'
import type { Logger } from '../../shared/observability/log.ts'
import type { IntakeMetrics } from '../../shared/observability/metrics-port.ts'
import { createLaneSignals } from '../../shared/nats/lane-signals.ts'
import { withDeadline } from '../../shared/resilience/deadline.ts'
import type { RequestFingerprinter } from '../../shared/security/request-fingerprint.ts'
import type { TokenSealer } from '../../shared/security/sealed-token.ts'
import type { OrderCreatedVersion } from '../../shared/config/order-versions.ts'
import { sealBucket, sealFloorOf, type RecordKeys } from '../../shared/security/record-seal.ts'
import { createNatsOrderStore, UnavailableError, type OrderStore } from './order-store.ts'
import { intakeOperatorLines, type IntakeOperatorLines } from './operator-lines.ts'

export interface ConnectPerRequestDeps {
  /** One bounded connection attempt (`connectOnce`); rejects when NATS is unreachable. */
  open: () => Promise<NatsConnection>
  logger: Logger
  metrics: Pick<IntakeMetrics, 'eventsPublished' | 'eventsPublishFailed'>
  sealer: TokenSealer
  /** See `NatsOrderStoreDeps.fingerprinter`. */
  fingerprinter?: RequestFingerprinter
  /** Budget of one call, connect included. */
  timeoutMs: number
  /** See `NatsOrderStoreDeps.statusWaitMs`. */
  statusWaitMs?: number
  /** See `NatsOrderStoreDeps.versions`. */
  versions?: readonly OrderCreatedVersion[]
  /**
   * LANE_SIGNAL_HOLD_MS: an express order is announced on this request's
   * connection before its event (lane-signals.ts), as the other intakes do; 0 sends none.
   */
  laneSignalHoldMs?: number
  /** Lets the close finish after the response (Workers: `ctx.waitUntil`); awaited when absent. */
  defer?: (work: Promise<unknown>) => void
  /** RECORD_KEYS: the records of both buckets are sealed and checked (record-seal.ts); both keys are needed. */
  recordKeys?: RecordKeys
  /** RECORD_SEALS=tolerate: records with no seal are read (see record-seal.ts). */
  tolerateUnsealed?: boolean
  /** A failed readiness probe, said at most once a minute; the edge keeps one per isolate. */
  notReady?: IntakeOperatorLines['notReady']
}

/** Each bucket's seal floor, read once per process or isolate (the provision step sets it once). */
const floors = new Map<string, number>()

/** Least time left for the NATS work once connected. */
const MIN_WORK_MS = 100
const CLOSE_TIMEOUT_MS = 1_000

export function createConnectPerRequestStore(deps: ConnectPerRequestDeps): {
  store: OrderStore
  checkReady: () => Promise<Readiness>
} {
  const { open, logger, metrics, sealer, fingerprinter, timeoutMs, statusWaitMs, versions, defer } = deps
  const notReady = deps.notReady ?? intakeOperatorLines().notReady
  const laneSignalHoldMs = deps.laneSignalHoldMs ?? 0
  const { recordKeys } = deps
  async function sealed(nc: NatsConnection, kv: KV, bucket: string): Promise<KV> {
    const key = recordKeys?.get(bucket)
    if (key === undefined) return kv
    // Read once per isolate, on this request's own connection: only a number
    // read is kept, so no request waits on another's connection.
    let floor = floors.get(bucket)
    if (floor === undefined) {
      const jsm = await jetstreamManager(nc, { timeout: timeoutMs, checkAPI: false })
      floor = sealFloorOf((await jsm.streams.info(`KV_${bucket}`)).config.metadata)
      floors.set(bucket, floor)
    }
    return sealBucket(kv, { bucket, key, floor, tolerateUnsealed: deps.tolerateUnsealed === true })
  }

  async function connect(what: string): Promise<NatsConnection> {
    try {
      return await open()
    } catch (error) {
      throw new UnavailableError(`${what}: NATS unreachable`, { cause: error })
    }
  }

  function close(nc: NatsConnection): void {
    const closing = withDeadline(nc.close(), CLOSE_TIMEOUT_MS, () => new Error('close timed out')).catch(
      (error: unknown) => logger.debug({ err: error }, 'nats close did not finish'),
    )
    if (defer) defer(closing)
    else void closing
  }

  async function withStore<T>(what: string, use: (store: OrderStore) => Promise<T>): Promise<T> {
    const started = Date.now()
    const nc = await connect(what)
    try {
      const js = jetstream(nc, { timeout: timeoutMs, checkAPI: false })
      // Binding a bucket sends nothing: the workers created it.
      const kvm = new Kvm(js)
      // A sealed bucket reads its seal floor first (once per isolate): within
      // what is left of the request's budget, and a NATS that stops answering
      // there is an outage (503), as anywhere else.
      const [statusKv, idempotencyKv] = await withDeadline(
        Promise.all([
          kvm.open(BUCKETS.orderStatus).then((kv) => sealed(nc, kv, BUCKETS.orderStatus)),
          kvm.open(BUCKETS.idempotency).then((kv) => sealed(nc, kv, BUCKETS.idempotency)),
        ]),
        Math.max(MIN_WORK_MS, timeoutMs - (Date.now() - started)),
        () => new UnavailableError(`${what}: NATS did not answer in time`),
      ).catch((error: unknown) => {
        // As the store's own guard does: a failure here is NATS's (a bucket
        // not provisioned reads as one too; the Worker keeps errors.ts out of
        // its size budget).
        if (error instanceof UnavailableError) throw error
        throw new UnavailableError(`${what}: NATS did not answer`, { cause: error })
      })
      const store = createNatsOrderStore({
        js,
        nc,
        statusKv,
        idempotencyKv,
        isConnected: () => !nc.isClosed(),
        metrics,
        sealer,
        ...(fingerprinter === undefined ? {} : { fingerprinter }),
        // Only sends (the intake holds no work of its own); nothing to stop: the connection closes.
        laneSignals: createLaneSignals({ nc, holdMs: laneSignalHoldMs, logger }),
        timeoutMs: Math.max(MIN_WORK_MS, timeoutMs - (Date.now() - started)),
        ...(statusWaitMs === undefined ? {} : { statusWaitMs }),
        ...(versions === undefined ? {} : { versions }),
      })
      return await use(store)
    } finally {
      close(nc)
    }
  }

  return {
    store: {
      placeOrder: (input) => withStore('placing the order', (store) => store.placeOrder(input)),
      getOrder: (orderId, visible) =>
        withStore('reading the order', (store) => store.getOrder(orderId, visible)),
      requestCancellation: (input) =>
        withStore('cancelling the order', (store) => store.requestCancellation(input)),
    },
    // Ready: NATS answers, and so does the ORDERS stream, with a leader (what
    // an order's publish needs), as the other intakes' readiness asks.
    checkReady: async () => {
      let nc: NatsConnection | undefined
      try {
        nc = await open()
        const jsm = await jetstreamManager(nc, { timeout: timeoutMs, checkAPI: false })
        const { cluster } = await jsm.streams.info(STREAMS.orders.name)
        if (cluster && !cluster.leader) throw new Error('no leader')
        return { ok: true }
      } catch (error) {
        // `/ready` answers anyone: the detail (which names the server) goes to the log only.
        notReady(logger, { err: error })
        return { ok: false, reason: nc ? 'ORDERS unavailable' : 'NATS unreachable' }
      } finally {
        if (nc) close(nc)
      }
    },
  }
}
