// 2 and 3. End to end: orders/s from POST to `confirmed` at saturation (closed
// model: each of `e2eConcurrency` clients sends its next order once the last
// is confirmed), p50/p99 POST-to-confirmed at half that rate (open model),
// the server's raw JetStream publish rate in the same run, and the hot sku.
import type { BenchContext } from '../lib/context.ts'
import { runGenerator, runJsPublish } from '../lib/generator-client.ts'
import { addStreamLikeOrders, streamSequences, subjectCounts, waitConsumersIdle } from '../lib/nats.ts'
import {
  HOT_SKU,
  parseWorkerEnv,
  seedStock,
  SPREAD_SKUS,
  STACK_CONSUMERS,
  startSaga,
  type SagaStack,
} from '../lib/saga.ts'
import { ratioOf, toFigure, type Figure, type Ratio } from '../lib/stats.ts'
import type { GeneratorResult } from '../load/generator.ts'
import { profileOrders, type OrderProfile } from './order-profile.ts'

export interface SaturationFigures {
  confirmedPerSec: Figure
  p50: Figure
  p99: Figure
  cancelled: number
  unsettled: number
}

export interface EndToEndResult {
  concurrency: number
  spread: SaturationFigures
  hot: SaturationFigures
  hotVsSpread: Ratio
  halfRate: { rate: number; achieved: Figure; p50: Figure; p99: Figure; cancelled: number; unsettled: number }
  rawPublish: { perSec: Figure; inFlight: number; payloadBytes: number }
  eventsPerOrder: number
  /** Raw publish rate / events per order: the orders/s the server could store if the saga cost nothing else. */
  ceilingOrdersPerSec: number
  ratio: Ratio
  profile: OrderProfile
  /** The same counts over a one-sku run: optimistic-concurrency retries show as extra messages. */
  hotProfile: OrderProfile
  rss: Record<string, { idleMiB: number; peakMiB: number }>
}

const RAW = { inFlight: 256, payloadBytes: 300 }

export async function runEndToEnd(ctx: BenchContext): Promise<EndToEndResult> {
  const { nats, settings } = ctx
  // The intake runs left up to a million orders and their status records;
  // this section starts from an empty stream and empty per-order buckets.
  const streams = await streamSequences(nats.jsm)
  for (const name of ['ORDERS', 'KV_order-status', 'KV_order-idempotency', 'KV_inventory-reservations'])
    if (streams[name] !== undefined) await nats.jsm.streams.purge(name)
  await addStreamLikeOrders(nats.jsm, 'BENCH_RAW', ['bench.raw.>'])
  // BENCH_E2E_WORKER_ENV=KEY=value,...: worker settings for a diagnostic run (kept apart).
  const workerEnv = parseWorkerEnv('BENCH_E2E_WORKER_ENV')
  if (Object.keys(workerEnv).length > 0)
    ctx.log(`end to end: diagnostic worker env ${JSON.stringify(workerEnv)}`)
  const saga: SagaStack = await startSaga(ctx, workerEnv)
  try {
    const inventoryUrl = saga.services.inventory.url
    await seedStock(inventoryUrl, ctx.security.bearer('admin'), [...SPREAD_SKUS, HOT_SKU], 1_000_000_000)
    await new Promise((resolve) => setTimeout(resolve, 1_000))
    const idle = saga.rss()
    const settle = (): Promise<void> => waitConsumersIdle(nats.jsm, 'ORDERS', 300_000, STACK_CONSUMERS)
    const closed = (skus: readonly string[]): Promise<GeneratorResult> =>
      runGenerator(ctx.generator, {
        url: saga.services.order.url,
        mode: 'closed',
        concurrency: settings.e2eConcurrency,
        rate: 0,
        warmupMs: settings.warmupMs,
        durationMs: settings.windowMs,
        skus: [...skus],
        idempotencyKeys: false,
        authorization: ctx.security.bearer('client'),
        natsUrl: nats.url,
        natsSeed: ctx.security.secrets.nats.admin.seed,
        settleTimeoutMs: 30_000,
      })

    const spread: GeneratorResult[] = []
    const hot: GeneratorResult[] = []
    const raw: number[] = []
    let profile: OrderProfile | undefined
    let hotProfile: OrderProfile | undefined
    const ordersBefore = (await subjectCounts(nats.jsm, 'ORDERS'))['orders.created'] ?? 0
    for (let round = 1; round <= settings.runs; round++) {
      ctx.log(`end to end, 1,000 skus, round ${round}/${settings.runs}`)
      if (profile === undefined) {
        const measured = await profileOrders(ctx, saga, async () => {
          spread.push(await closed(SPREAD_SKUS))
          await settle()
        })
        profile = measured
      } else {
        spread.push(await closed(SPREAD_SKUS))
        await settle()
      }
      ctx.log(`raw JetStream publish, round ${round}/${settings.runs}`)
      raw.push(
        (
          await runJsPublish({
            natsUrl: nats.url,
            natsSeed: ctx.security.secrets.nats.admin.seed,
            subject: 'bench.raw.events',
            durationMs: Math.min(settings.windowMs, 4_000),
            ...RAW,
          })
        ).perSec,
      )
      ctx.log(`end to end, one hot sku, round ${round}/${settings.runs}`)
      if (hotProfile === undefined) {
        hotProfile = await profileOrders(ctx, saga, async () => {
          hot.push(await closed([HOT_SKU]))
          await settle()
        })
      } else {
        hot.push(await closed([HOT_SKU]))
        await settle()
      }
    }
    if (profile === undefined || hotProfile === undefined) throw new Error('end to end: no profile')
    const spreadFigures = toSaturation(spread)
    // BENCH_E2E_HALF_RATE=<orders/s>: the latency run at a fixed rate (to compare revisions at one rate).
    const fixedRate = Number(process.env['BENCH_E2E_HALF_RATE'] ?? '')
    const rate =
      fixedRate > 0
        ? Math.floor(fixedRate)
        : Math.max(10, Math.floor(spreadFigures.confirmedPerSec.median / 2))
    const half: GeneratorResult[] = []
    for (let round = 1; round <= settings.runs; round++) {
      ctx.log(`end to end at half saturation (${rate}/s), round ${round}/${settings.runs}`)
      half.push(
        await runGenerator(ctx.generator, {
          url: saga.services.order.url,
          mode: 'open',
          concurrency: 256,
          rate,
          warmupMs: settings.warmupMs,
          durationMs: settings.windowMs,
          skus: [...SPREAD_SKUS],
          idempotencyKeys: false,
          authorization: ctx.security.bearer('client'),
          natsUrl: nats.url,
          natsSeed: ctx.security.secrets.nats.admin.seed,
          settleTimeoutMs: 30_000,
        }),
      )
      await settle()
    }
    const peak = saga.rss()
    const rawFigure = toFigure(raw)
    const ceiling = rawFigure.median / profile.eventsPerOrder
    const ceilingFigure: Figure = {
      ...rawFigure,
      median: ceiling,
      min: rawFigure.min / profile.eventsPerOrder,
      max: rawFigure.max / profile.eventsPerOrder,
    }
    const hotFigures = toSaturation(hot)
    const ordersAfter = (await subjectCounts(nats.jsm, 'ORDERS'))['orders.created'] ?? 0
    ctx.log(`end to end: ${ordersAfter - ordersBefore} orders in all`)
    return {
      concurrency: settings.e2eConcurrency,
      spread: spreadFigures,
      hot: hotFigures,
      hotVsSpread: ratioOf(hotFigures.confirmedPerSec, spreadFigures.confirmedPerSec),
      halfRate: {
        rate,
        achieved: toFigure(half.map((h) => h.confirmedPerSec ?? 0)),
        p50: toFigure(half.map((h) => h.confirm?.p50 ?? Number.NaN)),
        p99: toFigure(half.map((h) => h.confirm?.p99 ?? Number.NaN)),
        cancelled: half.reduce((sum, h) => sum + (h.cancelled ?? 0), 0),
        unsettled: half.reduce((sum, h) => sum + (h.unsettled ?? 0), 0),
      },
      rawPublish: { perSec: rawFigure, ...RAW },
      eventsPerOrder: profile.eventsPerOrder,
      ceilingOrdersPerSec: ceiling,
      ratio: ratioOf(spreadFigures.confirmedPerSec, ceilingFigure),
      profile,
      hotProfile,
      rss: Object.fromEntries(
        Object.entries(idle).map(([name, r]) => [
          name,
          { idleMiB: r.rssMiB, peakMiB: peak[name as keyof typeof peak].peakMiB },
        ]),
      ),
    }
  } finally {
    await saga.stop()
  }
}

function toSaturation(runs: readonly GeneratorResult[]): SaturationFigures {
  return {
    confirmedPerSec: toFigure(runs.map((r) => r.confirmedPerSec ?? 0)),
    p50: toFigure(runs.map((r) => r.confirm?.p50 ?? Number.NaN)),
    p99: toFigure(runs.map((r) => r.confirm?.p99 ?? Number.NaN)),
    cancelled: runs.reduce((sum, r) => sum + (r.cancelled ?? 0), 0),
    unsettled: runs.reduce((sum, r) => sum + (r.unsettled ?? 0), 0),
  }
}
