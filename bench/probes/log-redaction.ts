/**
 * What hiding card tokens costs per log line: pino's own `redact` (the
 * logger before, same paths) against the project's logger (one copy-on-write
 * pass, shared/observability/log.ts `redactFields`), and pino with no
 * redaction at all as the floor. Lines shaped like the intake's "order
 * accepted", written to a sink that drops them, rounds interleaved.
 *
 *   bun bench/probes/log-redaction.ts [--lines 200000] [--rounds 5]
 *
 * Prints the median µs per line of each logger and the ratios to pino's
 * `redact` in the same run.
 */
import { parseArgs } from 'node:util'
import { pino } from 'pino'
import { REDACTED_PATHS, type Logger } from '../../shared/observability/log.ts'
import { createLogger } from '../../shared/observability/logger.ts'
import { median } from '../lib/stats.ts'

const { values } = parseArgs({
  options: { lines: { type: 'string', default: '200000' }, rounds: { type: 'string', default: '5' } },
})
const lines = Number(values.lines)
const rounds = Number(values.rounds)
const sink = { write: (_line: string) => undefined }
const base = { service: 'order' }
const loggers: Record<string, Logger> = {
  'pino redact (before)': pino(
    {
      base,
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
      redact: { paths: [...REDACTED_PATHS], censor: '[redacted]' },
    },
    sink,
  ),
  'project logger (now)': createLogger({ service: 'order', level: 'info', destination: sink }),
  'pino, no redaction (floor)': pino(
    { base, timestamp: pino.stdTimeFunctions.isoTime, formatters: { level: (label) => ({ level: label }) } },
    sink,
  ),
}
const line = (i: number) => ({
  orderId: `0193a5b2-7c1d-7e4f-8a9b-${String(i).padStart(12, '0')}`,
  correlationId: '5c9c0620-9c80-4278-a1e2-962b6756f0b5',
  replayed: false,
  owner: 'client',
  trace_id: '4bf92f3577b34da6a3ce929d0e0e4736',
  span_id: '00f067aa0ba902b7',
})

const samples = new Map<string, number[]>(Object.keys(loggers).map((name) => [name, []]))
for (let round = 0; round < rounds; round++) {
  const order = Object.entries(loggers)
  if (round % 2 === 1) order.reverse()
  for (const [name, logger] of order) {
    const started = performance.now()
    for (let i = 0; i < lines; i++) logger.info(line(i), 'order accepted')
    samples.get(name)?.push(((performance.now() - started) * 1000) / lines)
  }
}
const before = median(samples.get('pino redact (before)') ?? [])
console.log(
  `${lines.toLocaleString('en-US')} lines per logger per round, ${rounds} rounds, median µs per line`,
)
for (const [name, values] of samples) {
  const us = median(values)
  console.log(`${name.padEnd(28)} ${us.toFixed(3)} µs  ${(us / before).toFixed(2)}x of pino redact`)
}
