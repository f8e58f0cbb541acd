// Where one order's cost goes, counted over a measured end-to-end run: events
// it put on ORDERS (by subject, from the server), JetStream writes per stream
// (KV buckets are streams), NATS messages each worker sent, CPU per process.
import type { BenchContext } from '../lib/context.ts'
import { connectionCounters, sequenceDelta, streamSequences, subjectCounts } from '../lib/nats.ts'
import { cpuMs } from '../lib/processes.ts'
import type { SagaStack } from '../lib/saga.ts'

export interface OrderProfile {
  orders: number
  eventsPerOrder: number
  eventsBySubject: Record<string, number>
  writesByStream: Record<string, number>
  natsMsgsByWorker: Record<string, number>
  /** KiB each worker sent to NATS per order. */
  natsKiBByWorker: Record<string, number>
  cpuMsByProcess: Record<string, number>
}

export async function profileOrders(
  ctx: BenchContext,
  saga: SagaStack,
  work: () => Promise<void>,
): Promise<OrderProfile> {
  const { jsm, monitorUrl } = ctx.nats
  const procs: Record<string, number> = { 'nats-server': ctx.nats.pid }
  for (const [name, svc] of Object.entries(saga.services)) procs[name] = svc.proc.pid
  const cpu = (): Record<string, number> =>
    Object.fromEntries(Object.entries(procs).map(([name, pid]) => [name, cpuMs(pid)]))
  const snapshot = async () => ({
    subjects: await subjectCounts(jsm, 'ORDERS'),
    seqs: await streamSequences(jsm),
    conns: await connectionCounters(monitorUrl),
    cpu: cpu(),
  })

  const before = await snapshot()
  await work()
  const after = await snapshot()

  const subjects = sequenceDelta(before.subjects, after.subjects)
  const orders = subjects['orders.created'] ?? 0
  if (orders === 0) throw new Error('profile: no orders.created during the run')
  const per = (record: Record<string, number>): Record<string, number> =>
    Object.fromEntries(
      Object.entries(record)
        .filter(([, n]) => n !== 0)
        .map(([k, n]) => [k, n / orders]),
    )
  const events = Object.values(subjects).reduce((sum, n) => sum + n, 0)
  const sent: Record<string, number> = {}
  const kib: Record<string, number> = {}
  for (const name of Object.keys(saga.services)) {
    sent[name] = (after.conns[name]?.inMsgs ?? 0) - (before.conns[name]?.inMsgs ?? 0)
    kib[name] = ((after.conns[name]?.inBytes ?? 0) - (before.conns[name]?.inBytes ?? 0)) / 1024
  }
  return {
    orders,
    eventsPerOrder: events / orders,
    eventsBySubject: per(subjects),
    writesByStream: per(sequenceDelta(before.seqs, after.seqs)),
    natsMsgsByWorker: per(sent),
    natsKiBByWorker: per(kib),
    cpuMsByProcess: per(sequenceDelta(before.cpu, after.cpu)),
  }
}
