// The priority lanes part of bench/results/*.md.
import { fig, num, ratio, table } from '../lib/format.ts'
import { STAGES } from '../lib/lanes.ts'
import type { ExpressFigures, PriorityResult } from '../sections/priority.ts'
import { splitLabel } from './targets.ts'

const STAGE_NAMES: Record<(typeof STAGES)[number], string> = {
  intake: 'POST to `orders.created` published',
  reserve: 'to `inventory.reserved` (inventory)',
  charge: 'to `payments.completed` (payment + gateway)',
  project: "to `confirmed` recorded (order-status, the record's `updatedAt`)",
  observe: 'to the record seen by the bench (KV subject)',
}

export function prioritySection(p: PriorityResult, deployment: 'default' | 'split' = 'default'): string[] {
  const express = (label: string, e: ExpressFigures): string[] => [
    label,
    `${fig(e.p50, 1)} / ${fig(e.p99, 1)} / ${fig(e.max, 1)}`,
    num(e.pooledP99, 1),
    `${num(e.sent)} (${e.cancelled} cancelled, ${e.failed} failed)`,
  ]
  const plain = p.drains.filter((d) => !d.withExpress)
  const cpu = Object.keys(p.drains[0]?.cpuMsPerOrder ?? {})
  return [
    deployment === 'default'
      ? '## 6. Priority lanes: express orders through a standard backlog'
      : `## 6b. Priority lanes, ${splitLabel(p)}`,
    '',
    ...(deployment === 'default'
      ? []
      : [
          "The same measurement on another deployment: inventory, payment and order-status each run once per lane (`CONSUMER_LANES`), the standard processes at a lower CPU weight (their nice and their sessions' autogroup nice), with " +
            Object.entries(p.deploymentEnv ?? {})
              .map(([k, v]) => `\`${k}=${v}\``)
              .join(', ') +
            ' (docs/priority.md, "Each lane in processes of its own").',
          '',
        ]),
    ...(Object.keys(p.workerEnv).length === 0
      ? []
      : [
          `**Diagnostic run: every worker ran with ${Object.entries(p.workerEnv)
            .map(([k, v]) => `\`${k}=${v}\``)
            .join(', ')} (BENCH_PRIORITY_WORKER_ENV).**`,
          '',
        ]),
    `Per round: ${num(p.idleOrders)} express orders at ${num(p.expressRate)}/s on the idle stack (the baseline), then ${num(p.backlog)} standard orders placed while the standard lane's consumers are paused and drained after resuming them, once without express orders and once with express orders at ${num(p.expressRate)}/s from the resume until 90% of the backlog is confirmed (the two drains alternate in order from round to round). Express orders are placed with the admin key and \`priority: express\`; latency from each order's scheduled send time to \`confirmed\` seen on the order-status KV subject. Standard throughput: standard orders confirmed per second between 10% and 90% of the backlog confirmed. N = ${p.rounds} rounds.`,
    '',
    table(
      ['express orders', 'p50 / p99 / max ms (median of rounds)', 'p99 over all rounds ms', 'orders'],
      [
        express('idle stack (baseline)', p.idle),
        express(`through ${num(p.backlog)} standard orders`, p.underBacklog),
      ],
    ),
    '',
    table(
      ['backlog drained', 'standard confirmed/s (10-90%)', 'resume to last confirmed, s'],
      [
        ['without express orders (baseline)', fig(p.plain.perSec), fig(p.plain.drainS, 1)],
        ['with express orders', fig(p.withExpress.perSec), fig(p.withExpress.drainS, 1)],
      ],
    ),
    '',
    `**Express p99 under the backlog ÷ idle = ${ratio(p.p99Ratio)}** (target <= 2); **standard confirmed/s with express ÷ without = ${ratio(p.throughputRatio)}** (target >= 0.9).`,
    '',
    `The express orders are work too: at ${num(p.expressRate)}/s beside ${num(p.withExpress.perSec.median)} standard/s they were ${num((100 * p.expressRate) / (p.expressRate + p.withExpress.perSec.median), 1)}% of the orders carried during those drains; standard + express orders/s ÷ standard without = ${num((p.withExpress.perSec.median + p.expressRate) / p.plain.perSec.median, 2)}.`,
    '',
    "Where an express order's time went (p50 / p99 ms over all rounds; event times are each producer's wall clock, ms resolution):",
    '',
    table(
      ['stage', 'idle', 'through the backlog'],
      STAGES.map((s) => [
        STAGE_NAMES[s],
        `${num(p.idle.stages[s].p50, 0)} / ${num(p.idle.stages[s].p99, 0)}`,
        `${num(p.underBacklog.stages[s].p50, 0)} / ${num(p.underBacklog.stages[s].p99, 0)}`,
      ]),
    ),
    '',
    table(
      [
        'drain',
        'round',
        '1-min load at start',
        'placing the backlog s',
        'standard confirmed/s',
        'drain s',
        'express sent',
        ...cpu.map((c) => `CPU ms/order ${c}`),
      ],
      p.drains.map((d) => [
        d.withExpress ? 'with express' : 'without',
        String(d.round),
        num(d.loadAtStart, 2),
        num(d.placeS, 1),
        num(d.standardPerSec),
        num(d.drainS, 1),
        num(d.expressSent),
        ...cpu.map((c) => num(d.cpuMsPerOrder[c] ?? Number.NaN, 2)),
      ]),
    ),
    ...(plain.length === 0 ? ['', 'No drain without express orders was measured.'] : []),
    ...[p.idle.firstError, p.underBacklog.firstError]
      .filter((e) => e !== undefined)
      .map((e) => `\nFirst express failure: ${e}`),
  ]
}
