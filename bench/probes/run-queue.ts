/**
 * How long each saga process waits for a core: per second, the time its
 * threads ran and the time they were runnable but waiting on a run queue
 * (`/proc/<pid>/task/<tid>/schedstat`, Linux), the main thread and all
 * threads, plus the scheduler autogroup and policy of each process.
 *
 *   npx bun bench/probes/run-queue.ts [--seconds 300] [--busy-ms 250] [--names inventory,payment,...]
 *
 * Run it beside a bench section (`npm run bench -- --only priority --no-wait`
 * in another shell); it stops at `--seconds` or at SIGINT / SIGTERM. It prints medians and 90th percentiles over the
 * seconds in which inventory's threads ran at least `--busy-ms` (the
 * drains), then over the other seconds.
 */
import { readdirSync, readFileSync } from 'node:fs'
import { parseArgs } from 'node:util'
import { statFieldsAfterName } from '../../test/harness/proc-stat.ts'

const { values } = parseArgs({
  options: {
    seconds: { type: 'string', default: '300' },
    'busy-ms': { type: 'string', default: '250' },
    names: { type: 'string', default: 'nats-server,order,order-status,inventory,payment,gateway' },
  },
})
const seconds = Number(values.seconds)
const busyMs = Number(values['busy-ms'])
const names = new Set(values.names.split(','))
if (!(seconds > 0) || !(busyMs >= 0)) throw new Error('--seconds and --busy-ms take positive numbers')

/** [ran ns, waited ns] since the thread started. */
function schedstat(path: string): [number, number] | undefined {
  try {
    const [run, wait] = readFileSync(path, 'utf8').split(' ').map(Number)
    return run === undefined || wait === undefined ? undefined : [run, wait]
  } catch {
    return undefined // the thread or the process ended
  }
}

interface Totals {
  mainRun: number
  mainWait: number
  allRun: number
  allWait: number
}

function totalsOf(pid: string): Totals | undefined {
  const main = schedstat(`/proc/${pid}/task/${pid}/schedstat`)
  if (main === undefined) return undefined
  let allRun = 0
  let allWait = 0
  let tids: string[] = []
  try {
    tids = readdirSync(`/proc/${pid}/task`)
  } catch {
    return undefined
  }
  for (const tid of tids) {
    const t = schedstat(`/proc/${pid}/task/${tid}/schedstat`)
    if (t !== undefined) [allRun, allWait] = [allRun + t[0], allWait + t[1]]
  }
  return { mainRun: main[0], mainWait: main[1], allRun, allWait }
}

function describe(pid: string): string {
  const read = (file: string) => {
    try {
      return readFileSync(`/proc/${pid}/${file}`, 'utf8').trim()
    } catch {
      return '?'
    }
  }
  const policy = ['SCHED_OTHER', 'SCHED_FIFO', 'SCHED_RR', 'SCHED_BATCH', '', 'SCHED_IDLE'][
    Number(statFieldsAfterName(read('stat'))[38] ?? -1)
  ]
  return `autogroup ${read('autogroup')}, ${policy ?? 'policy ?'}`
}

const samples = new Map<string, { busy: boolean; d: Totals }[]>()
let seen = new Map<string, { name: string; totals: Totals }>()
const described = new Set<string>()
const end = Date.now() + seconds * 1000
let stop = false
let wake: () => void = () => undefined
for (const signal of ['SIGINT', 'SIGTERM'] as const)
  process.on(signal, () => {
    stop = true
    wake()
  })
while (!stop && Date.now() < end) {
  const tick = Date.now()
  const now = new Map<string, { name: string; totals: Totals }>()
  for (const pid of readdirSync('/proc')) {
    if (!/^\d+$/.test(pid)) continue
    let name: string
    try {
      name = readFileSync(`/proc/${pid}/comm`, 'utf8').trim()
    } catch {
      continue
    }
    if (!names.has(name)) continue
    const totals = totalsOf(pid)
    if (totals === undefined) continue
    now.set(pid, { name, totals })
    if (!described.has(pid)) {
      described.add(pid)
      console.log(`[probe] ${name} pid ${pid}: ${describe(pid)}`)
    }
  }
  const deltas: { name: string; d: Totals }[] = []
  for (const [pid, { name, totals }] of now) {
    const before = seen.get(pid)
    if (before === undefined) continue
    const ms = (a: number, b: number) => (a - b) / 1e6
    deltas.push({
      name: `${name} ${pid}`,
      d: {
        mainRun: ms(totals.mainRun, before.totals.mainRun),
        mainWait: ms(totals.mainWait, before.totals.mainWait),
        allRun: ms(totals.allRun, before.totals.allRun),
        allWait: ms(totals.allWait, before.totals.allWait),
      },
    })
  }
  const busy = deltas.some(({ name, d }) => name.startsWith('inventory ') && d.allRun >= busyMs)
  for (const { name, d } of deltas) {
    const list = samples.get(name) ?? []
    list.push({ busy, d })
    samples.set(name, list)
  }
  seen = now
  await new Promise<void>((resolve) => {
    wake = resolve
    setTimeout(resolve, Math.max(0, 1000 - (Date.now() - tick)))
  })
}

const quantile = (xs: number[], q: number): number => {
  const s = [...xs].sort((a, b) => a - b)
  return s[Math.min(s.length - 1, Math.floor(q * s.length))] ?? Number.NaN
}
for (const busy of [true, false]) {
  console.log(
    `\n${busy ? `seconds with inventory running >= ${busyMs} ms` : 'the other seconds'}: ms per second, median / p90`,
  )
  console.log('process (pid)          seconds  main ran  main waited  all ran  all waited')
  for (const [name, list] of [...samples].sort(([a], [b]) => a.localeCompare(b))) {
    const xs = list.filter((s) => s.busy === busy).map((s) => s.d)
    if (xs.length === 0) continue
    const cell = (k: keyof Totals) =>
      `${quantile(
        xs.map((x) => x[k]),
        0.5,
      ).toFixed(0)} / ${quantile(
        xs.map((x) => x[k]),
        0.9,
      ).toFixed(0)}`
    console.log(
      `${name.padEnd(22)} ${String(xs.length).padStart(7)}  ${cell('mainRun').padStart(8)}  ${cell('mainWait').padStart(11)}  ${cell('allRun').padStart(7)}  ${cell('allWait').padStart(10)}`,
    )
  }
}
