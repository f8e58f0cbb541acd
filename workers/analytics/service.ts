import { BUCKETS } from '../../schemas/subjects.ts'
import { KvRecordError } from '../../shared/nats/kv-json.ts'
import { createCachedCheck } from '../../shared/http/cached-check.ts'
import { logEvery } from '../../shared/observability/log-every.ts'
import { createApiKeyVerifier } from '../../shared/http/api-keys.ts'
import { createRateLimiter } from '../../shared/http/rate-limit.ts'
import type { ConnectFn } from '../../shared/nats/connect.ts'
import type { SagaConsumerName } from '../../shared/nats/saga-consumers.ts'
import { openBucket, startDurableConsumer, startNatsRuntime, toStoppable } from '../../shared/nats/runtime.ts'
import type { Logger } from '../../shared/observability/logger.ts'
import type { Metrics } from '../../shared/observability/metrics.ts'
import { createAnalyticsMetrics } from './analytics-metrics.ts'
import { createAnalyticsApp, GenerationGoneError } from './app.ts'
import type { AnalyticsConfig } from './config.ts'
import { createWindowFeed } from './feed.ts'
import { createAnalyticsHandlers, createLiveApplier } from './handlers.ts'
import { newGeneration, replayWindows } from './replay.ts'
import { createAnalyticsStore, type AnalyticsStore } from './store.ts'
import { mergeWindows, toTotals, toWindowView } from './summary.ts'

/** How often a running worker checks that its windows are still the active generation. */
const GENERATION_CHECK_MS = 5_000

/** The worker's durable consumer (one at a time, in stream order: see SAGA_CONSUMERS). */
export const ANALYTICS_CONSUMER = 'analytics' satisfies SagaConsumerName

/**
 * The analytics worker: an optional replay (ANALYTICS_REPLAY_FROM, `--from`),
 * then its durable consumer into the active generation of windows, and the
 * HTTP routes that read them.
 */
export async function startAnalyticsService(
  config: AnalyticsConfig,
  deps: { connect: ConnectFn; logger: Logger; metrics: Metrics },
) {
  // One message at a time; the consumer's max_ack_pending is 1 as well.
  const rt = await startNatsRuntime('analytics', { ...config, CONSUMER_CONCURRENCY: 1 }, deps)
  const store = createAnalyticsStore({
    orders: await openBucket(rt, BUCKETS.analyticsOrders),
    windows: await openBucket(rt, BUCKETS.analyticsWindows),
    jsm: rt.jsm,
  })
  const metrics = createAnalyticsMetrics(deps.metrics)
  if (config.ANALYTICS_REPLAY_FROM !== undefined) {
    const report = await replayWindows(
      {
        jsm: rt.jsm,
        store,
        logger: deps.logger,
        durable: ANALYTICS_CONSUMER,
        marginMs: config.ANALYTICS_REPLAY_MARGIN_MS,
      },
      config.ANALYTICS_REPLAY_FROM,
    )
    metrics.replayed(report.events)
  }
  const generation = await activeGeneration(store)
  deps.logger.info({ generation }, 'analytics: applying to the active generation')
  const feed = createWindowFeed({
    maxClients: config.ANALYTICS_STREAM_MAX_CLIENTS,
    onSize: (n) => metrics.streamClients(n),
  })
  // Whether `generation` is still the active one: read at most once a second
  // (however often /ready is asked), every GENERATION_CHECK_MS anyway, and
  // kept once it is not: only a restart changes this process's generation.
  const generationGone = async (): Promise<GenerationGoneError | undefined> => {
    let meta: Awaited<ReturnType<AnalyticsStore['readMeta']>>
    try {
      meta = await store.readMeta()
    } catch (error) {
      if (!(error instanceof KvRecordError)) throw error
      return new GenerationGoneError(
        `the analytics-windows bucket's active generation record fails its check (${error.message}): restart the analytics worker with ANALYTICS_REPLAY_FROM to rebuild the windows`,
      )
    }
    if (meta?.value.generation === generation) return undefined
    return new GenerationGoneError(
      meta === null
        ? `the analytics-windows bucket no longer names an active generation (this process applies to ${generation}): restart the analytics worker with ANALYTICS_REPLAY_FROM to rebuild the windows`
        : `generation ${meta.value.generation} replaced ${generation}, which this process applies to (a replay by another process?): restart it`,
    )
  }
  let gone: GenerationGoneError | undefined
  const cachedCheck = createCachedCheck<GenerationGoneError | undefined>(1_000, {
    maxWaitMs: config.NATS_REQUEST_TIMEOUT_MS,
    timedOut: () => undefined,
  })
  const logGone = logEvery('error', 'analytics windows no longer active; answering 503 until a restart')
  // Set once the consumer runs; the generation check may come first.
  const consuming: { stop?: () => Promise<void> } = {}
  const checkGeneration = async (): Promise<GenerationGoneError | undefined> => {
    if (gone !== undefined) return gone
    const found = await cachedCheck(generationGone)
    if (found !== undefined && gone === undefined) {
      gone = found
      // Stream clients would go on getting the dead generation's windows.
      feed.close()
      // Nor does it take events any more: applied here they would be acked
      // into windows nobody reads (a replay by another process took over).
      // The one in hand is handed back by the applier; not awaited, as this
      // may run inside that handler.
      void consuming.stop?.().catch(() => undefined)
    }
    return gone
  }
  const apply = createLiveApplier({
    store,
    generation,
    metrics,
    feed,
    stillActive: async () => (await checkGeneration()) === undefined,
  })
  const consumer = await startDurableConsumer(rt, {
    durable: ANALYTICS_CONSUMER,
    handlers: createAnalyticsHandlers(apply),
  })
  consuming.stop = () => consumer.stop()
  const generationWatch = setInterval(() => {
    checkGeneration().then(
      (found) => {
        if (found !== undefined) logGone(deps.logger, { err: found })
      },
      () => undefined, // NATS not answering: its own checks say so
    )
  }, GENERATION_CHECK_MS)
  generationWatch.unref?.()
  const app = createAnalyticsApp({
    logger: deps.logger,
    metrics: deps.metrics,
    checkReady: async () => {
      const ready = await rt.readiness.check()
      if (!ready.ok) return ready
      const found = await checkGeneration().catch(() => undefined)
      return found === undefined ? ready : { ok: false, reason: 'generation_gone' }
    },
    checkGeneration,
    verifier: createApiKeyVerifier(config.API_KEYS),
    limiter: createRateLimiter({ perSecond: config.RATE_LIMIT_PER_SECOND, burst: config.RATE_LIMIT_BURST }),
    feed,
    maxRangeMs: config.ANALYTICS_SUMMARY_MAX_RANGE_MS,
    streamIntervalMs: config.ANALYTICS_STREAM_INTERVAL_MS,
    heartbeatMs: config.ANALYTICS_STREAM_HEARTBEAT_MS,
    summarize: async ({ fromMinute, toMinute, top }) => {
      const windows = await store.readWindows(generation, fromMinute, toMinute)
      // Asked after the windows were read (at most a second old).
      const found = await checkGeneration()
      if (found !== undefined) throw found
      return {
        from: new Date(fromMinute).toISOString(),
        to: new Date(toMinute).toISOString(),
        generation,
        totals: toTotals(mergeWindows(windows), top),
        windows: windows.map((w) => toWindowView(w, top)),
      }
    },
  })
  const stoppable = toStoppable(rt, [consumer])
  return {
    app,
    ...stoppable,
    stopConsuming: async () => {
      clearInterval(generationWatch)
      // Stream clients end first, so the HTTP server can close.
      feed.close()
      await stoppable.stopConsuming()
    },
  }
}

/** The active generation; the first start of all makes one. */
async function activeGeneration(store: AnalyticsStore): Promise<string> {
  for (;;) {
    const meta = await store.readMeta()
    if (meta !== null) return meta.value.generation
    const generation = newGeneration(new Date())
    if (await store.swapMeta(null, { generation, since: new Date().toISOString() })) return generation
  }
}
