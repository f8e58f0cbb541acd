// Reading a `bun --cpu-prof` .cpuprofile by counting samples inside a time
// window, and a process's CPU time by thread from /proc. Counting samples, not
// summing the profile's time deltas: Bun charges an idle gap to the sample
// that follows it, so time-weighted shares (the --cpu-prof-md tables) inflate
// whatever runs first after the event loop wakes up.
import { readdirSync, readFileSync } from 'node:fs'
import { statFieldsAfterName } from '../../test/harness/proc-stat.ts'

interface CpuProfile {
  nodes: {
    id: number
    callFrame: { functionName: string; url: string; lineNumber: number }
    children?: number[]
  }[]
  /** Wall clock, microseconds since the epoch (as Date.now() * 1000). */
  startTime: number
  samples: number[]
  timeDeltas: number[]
}

export interface SampleCounts {
  samples: number
  /** By `<function>  <file>:<line>` (file relative to node_modules or `root`; `[native]`). */
  self: Map<string, number>
  inclusive: Map<string, number>
  /** Samples whose stack has a frame matching the group's pattern (on `<function> <url>`, url '' if native). */
  groups: Map<string, number>
  /** Self samples by package (`native`, `project/runtime` for the project's and Bun's own JS). */
  packages: Map<string, number>
}

export function countSamples(
  file: string,
  { fromUs, toUs, root, groups }: { fromUs: number; toUs: number; root: string; groups: [string, RegExp][] },
): SampleCounts {
  const p = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile
  const byId = new Map(p.nodes.map((n) => [n.id, n.callFrame]))
  const parent = new Map<number, number>()
  for (const n of p.nodes) for (const c of n.children ?? []) parent.set(c, n.id)
  const short = (url: string): string =>
    url
      .replace(/^file:\/\//, '')
      .replace(/^.*\/node_modules\//, '')
      .replace(`${root}/`, '') || '[native]'
  const keyOf = (id: number): string => {
    const f = byId.get(id)
    return f === undefined ? '?' : `${f.functionName || '(anon)'}  ${short(f.url)}:${f.lineNumber + 1}`
  }
  const out: SampleCounts = {
    samples: 0,
    self: new Map(),
    inclusive: new Map(),
    groups: new Map(),
    packages: new Map(),
  }
  const bump = (m: Map<string, number>, k: string): void => void m.set(k, (m.get(k) ?? 0) + 1)
  let t = p.startTime
  p.samples.forEach((leaf, i) => {
    t += p.timeDeltas[i] ?? 0
    if (t < fromUs || t > toUs) return
    out.samples++
    bump(out.self, keyOf(leaf))
    const url = byId.get(leaf)?.url ?? ''
    const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url)?.[1]
    bump(out.packages, pkg ?? (url === '' ? 'native' : 'project/runtime'))
    const keys = new Set<string>()
    const hit = new Set<string>()
    for (let id: number | undefined = leaf; id !== undefined; id = parent.get(id)) {
      const f = byId.get(id)
      if (f === undefined) break
      keys.add(keyOf(id))
      for (const [name, re] of groups) if (re.test(`${f.functionName} ${f.url}`)) hit.add(name)
    }
    keys.forEach((k) => bump(out.inclusive, k))
    hit.forEach((g) => bump(out.groups, g))
  })
  return out
}

/** CPU ms so far of each thread of `pid` by name, the main thread split into `main user` and `main sys`. */
export function threadCpuMs(pid: number): Record<string, number> {
  const out: Record<string, number> = {}
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    let stat: string
    try {
      stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8')
    } catch {
      continue // the thread ended
    }
    const f = statFieldsAfterName(stat)
    const [user, sys] = [Number(f[11]) * 10, Number(f[12]) * 10] // USER_HZ is 100 on Linux
    if (tid === String(pid)) Object.assign(out, { 'main user': user, 'main sys': sys })
    else {
      const name = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'))
      out[name] = (out[name] ?? 0) + user + sys
    }
  }
  return out
}
