// The end-to-end, hot-sku, binaries and bundles parts of bench/results/latest.md.
import { fig, kib, mib, num, ratio, table } from '../lib/format.ts'
import { READERS, WORKERS } from '../lib/builds.ts'
import type { BaselineResult } from '../sections/baseline.ts'
import type { BinariesResult } from '../sections/binaries.ts'
import type { EndToEndResult } from '../sections/end-to-end.ts'
import type { BenchReport } from './types.ts'

/** The revision the 3x target counts from, run in this bench through its own end-to-end section. */
export function baselineSection(b: BaselineResult): string[] {
  const cpu = Object.entries(b.cpuMsByProcess).sort(([, x], [, y]) => y - x)
  const total = cpu.reduce((sum, [, ms]) => sum + ms, 0)
  const when = b.benches === 1 ? 'once' : `${b.benches} times, before and after the section above`
  const each =
    b.perBench.length > 1
      ? ` (each bench's median in turn: ${b.perBench.map((f) => num(f.median)).join(', ')}/s)`
      : ''
  return [
    `## 2b. The 3x target's baseline: ${b.revision}, in this run`,
    '',
    `The code the performance issue was filed against (${b.commit}), checked out in a git worktree with this checkout's dependencies and nats-server and measured by its own bench (\`${b.command}\`, ${when}; ${num(b.durationS)} s in all): ${fig(b.confirmedPerSec)} confirmed orders/s at saturation${each}; CPU per confirmed order ${num(total, 2)} ms (${cpu.map(([name, ms]) => `${name} ${num(ms, 2)}`).join(', ')}; ${b.benches === 1 ? 'one profiled run' : `the mean of ${b.benches} profiled runs`}).`,
  ]
}

export function endToEndSection(e: EndToEndResult, baseline?: BaselineResult): string[] {
  const p = e.profile
  const perOrder = (rec: Record<string, number>, digits = 2): string =>
    Object.entries(rec)
      .sort(([, x], [, y]) => y - x)
      .map(([k, n]) => `${k} ${num(n, digits)}`)
      .join(', ')
  return [
    '## 2. End to end: POST to `confirmed` (every worker a compiled binary, gateway sandbox)',
    '',
    table(
      ['figure', 'value'],
      [
        [
          `confirmed orders/s at saturation (${e.concurrency} orders in flight, 1,000 skus)`,
          fig(e.spread.confirmedPerSec),
        ],
        ['POST-to-confirmed at saturation, p50 / p99 ms', `${fig(e.spread.p50)} / ${fig(e.spread.p99)}`],
        [
          `POST-to-confirmed at half that rate (${num(e.halfRate.rate)}/s, open model), p50 / p99 ms`,
          `${fig(e.halfRate.p50, 1)} / ${fig(e.halfRate.p99, 1)}`,
        ],
        ['confirmed orders/s carried at half rate', fig(e.halfRate.achieved)],
        [
          `raw JetStream async publish/s (${e.rawPublish.inFlight} in flight, ${e.rawPublish.payloadBytes} B, msg ids, Bun)`,
          fig(e.rawPublish.perSec),
        ],
        [
          'events one order puts on ORDERS (counted on the stream)',
          `${num(e.eventsPerOrder, 2)} (${perOrder(p.eventsBySubject)})`,
        ],
        ['ceiling: raw publish/s ÷ events per order', num(e.ceilingOrdersPerSec)],
        ['**ratio** confirmed/s ÷ ceiling', ratio(e.ratio)],
        [
          'cancelled / unsettled orders (all runs)',
          `${e.spread.cancelled + e.hot.cancelled + e.halfRate.cancelled} / ${e.spread.unsettled + e.hot.unsettled + e.halfRate.unsettled}`,
        ],
      ],
    ),
    '',
    `Per order, over ${num(p.orders)} orders of a saturation run: JetStream writes by stream (KV buckets are streams) ${perOrder(p.writesByStream)}; NATS messages sent by worker ${perOrder(p.natsMsgsByWorker)}; KiB sent by worker ${perOrder(p.natsKiBByWorker)}; CPU ms by process ${perOrder(p.cpuMsByProcess, 3)}.`,
    '',
    ...(baseline === undefined ? [] : [...baselineSection(baseline), '']),
    '## 3. Hot sku',
    '',
    table(
      ['orders over', 'confirmed orders/s', 'p50 ms', 'p99 ms'],
      [
        ['1,000 skus', fig(e.spread.confirmedPerSec), fig(e.spread.p50), fig(e.spread.p99)],
        ['one sku', fig(e.hot.confirmedPerSec), fig(e.hot.p50), fig(e.hot.p99)],
      ],
    ),
    '',
    `One sku ÷ 1,000 skus: ${ratio(e.hotVsSpread)}. Per order with one sku (${num(e.hotProfile.orders)} orders): NATS messages sent by worker ${perOrder(e.hotProfile.natsMsgsByWorker)}; KiB sent by worker ${perOrder(e.hotProfile.natsKiBByWorker)}; CPU ms by process ${perOrder(e.hotProfile.cpuMsByProcess, 3)}.`,
  ]
}

/** The services the multi-call binary runs (`workers/multi/main.ts`; nats-metrics aside). */
const MULTI_CALL_SERVICES = WORKERS.length + READERS.length

export function binariesSection(r: BenchReport, b: BinariesResult): string[] {
  const e = r.endToEnd
  const rows = Object.entries(b.binaries).map(([name, x]) => {
    const rss = e?.rss[name]
    const bundle = b.bundles[name as keyof typeof b.bundles]
    return [
      name,
      `${mib(x.bytes)} (${num(x.bytes / b.bunRuntimeBytes, 3)}x)`,
      `${mib(x.plainBytes)} (${num(x.plainBytes / b.bunRuntimeBytes, 3)}x)`,
      `${kib(bundle.bytes)} / ${kib(bundle.gzipBytes)}`,
      `${fig(x.idle, 1)} MiB`,
      Number.isFinite(x.plainIdleMiB) ? `${num(x.plainIdleMiB, 1)} MiB` : 'n/a',
      rss === undefined ? 'n/a' : `${num(rss.idleMiB, 1)} MiB`,
      rss === undefined ? 'n/a' : `${num(rss.peakMiB, 1)} MiB`,
    ]
  })
  const edge =
    'size' in b.edge
      ? `${kib(b.edge.size.bytes)} raw, ${kib(b.edge.size.gzipBytes)} (${num(b.edge.size.gzipBytes / 1000, 1)} KB) gzipped, built with ${b.edge.how}`
      : b.edge.missing
  return [
    '## 4. Binaries',
    '',
    `Bare Bun runtime (node_modules/bun/bin/bun.exe): ${mib(b.bunRuntimeBytes)}. Project binaries built with ${b.buildHow}. RSS from /proc/<pid>/status: VmRSS of a fresh process 2 s after it is ready, no traffic (project build: median of N starts; plain: one); in the end-to-end stack, VmRSS after start and stock seeding, and VmHWM (peak) after all the end-to-end runs.`,
    ...(b.readerErrors === undefined
      ? []
      : ['', `**Not measured** (left out of the rows and the targets): ${b.readerErrors.join('; ')}.`]),
    '',
    table(
      [
        'worker',
        'project binary',
        'plain `--compile --minify`',
        "own JS (`--minify --target=bun`, the build's resolution) raw / gzip",
        'idle RSS, project',
        'idle RSS, plain',
        'RSS in the stack after seeding',
        'peak RSS (end to end)',
      ],
      rows,
    ),
    '',
    `Size attribution (order): an empty program compiled ${mib(b.emptyCompiledBytes)} (${num(b.emptyCompiledBytes / b.bunRuntimeBytes, 3)}x: what \`--compile\` adds before any code), plain ${mib(b.binaries.order?.plainBytes ?? Number.NaN)}, with \`--bytecode\` (no kept names, Swagger UI's files in the code as text) ${mib(b.leanOrderBytes)} (${num(b.leanOrderBytes / b.bunRuntimeBytes, 3)}x), project build (bytecode, kept names, Swagger UI's files embedded gzipped, no source map) ${mib(b.binaries.order?.bytes ?? Number.NaN)}${b.sourcemapOrderBytes !== undefined ? `, the same with its source map embedded (\`--sourcemap\`) ${mib(b.sourcemapOrderBytes)} (${num(b.sourcemapOrderBytes / b.bunRuntimeBytes, 3)}x)` : ''}.${b.multiCallBytes !== undefined ? ` The multi-call binary with all ${MULTI_CALL_SERVICES} services: ${mib(b.multiCallBytes)} (${num(b.multiCallBytes / b.bunRuntimeBytes, 3)}x; ${num(b.multiCallBytes / MULTI_CALL_SERVICES / b.bunRuntimeBytes, 3)}x per service).` : ''} Idle RSS floor: the bare baseline (b) compiled, Bun + the NATS client only: ${num(b.bareIdleMiB, 1)} MiB. A compiled \`Bun.serve\` that loads one library (bench/probes/rss-probe.ts), idle RSS in MiB: ${Object.entries(
      b.libraryRss,
    )
      .map(([k, f]) => `${k} ${fig(f, 1)}`)
      .join(', ')}.`,
    '',
    `Cold start of the order worker to the first 200 from /ready (spawn to answer, NATS up, streams already there), median of ${r.settings.coldStarts}:`,
    '',
    table(
      ['started as', 'ms'],
      b.coldStart.map((c) => [c.way, fig(c.readyMs)]),
    ),
    ...(b.coldStartNote !== undefined ? ['', b.coldStartNote] : []),
    '',
    '## 5. Bundles',
    '',
    `Each worker's own JavaScript is in the table above. Worker (edge) bundle: ${edge}.`,
  ]
}
