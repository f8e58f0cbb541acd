// nats-server 2.10.27 now and then formed the JetStream meta group of a fresh
// 3-node cluster without one node and never added it (4 of 25 harness starts);
// until an orchestrator restarts such a node, R3 streams cannot be placed.
// This does what an orchestrator would: a node left out for a while is
// restarted once. 2.15.1 left no node out in 425 harness starts
// (docs/nats-server.md), so the in-process harness dropped its restart; it is
// kept here because compose starts (nodes staggered, routes by DNS name) were
// not measured often enough on 2.15.1 to show it unneeded. Restarts are logged
// ("[compose] restarted NATS nodes left out of the meta group").
import type { Podman } from './container-health.ts'
import { waitFor } from '../harness/wait-for.ts'

interface MetaCluster {
  leader?: string
  cluster_size?: number
  replicas?: Array<{ name: string; current?: boolean; offline?: boolean }>
}

async function readMeta(podman: Podman, container: string): Promise<MetaCluster> {
  const r = await podman(['exec', container, '/app/service', 'probe', 'http://127.0.0.1:8222/jsz'], {
    check: false,
    timeoutMs: 10_000,
  })
  return (JSON.parse(r.stdout) as { meta_cluster?: MetaCluster }).meta_cluster ?? {}
}

/** Nodes (by server name) the agreed meta-leader does not count as current peers; undefined while no leader is agreed. */
async function outsideMetaGroup(
  podman: Podman,
  nodes: ReadonlyMap<string, string>,
): Promise<string[] | undefined> {
  const names = [...nodes.keys()]
  const metas = await Promise.all(names.map((n) => readMeta(podman, nodes.get(n) ?? n)))
  const leader = metas[0]?.leader
  if (leader === undefined || leader === '' || !metas.every((m) => m.leader === leader)) return undefined
  const leaderMeta = metas[names.indexOf(leader)]
  if (leaderMeta === undefined) return undefined
  const members = new Set([leader])
  for (const r of leaderMeta.replicas ?? []) if (r.current === true && r.offline !== true) members.add(r.name)
  return names.filter((n) => !members.has(n))
}

/**
 * Resolves once every node is a current member of the meta group; restarts a
 * node still outside `rejoinAfterMs` after the first agreed leader.
 * `nodes`: server name -> container name.
 */
export async function healNatsMetaGroup(
  podman: Podman,
  nodes: ReadonlyMap<string, string>,
  { timeoutMs = 120_000, rejoinAfterMs = 10_000 } = {},
): Promise<string[]> {
  const restarted: string[] = []
  let agreedAt: number | undefined
  await waitFor(
    async () => {
      const outside = await outsideMetaGroup(podman, nodes).catch(() => undefined)
      if (outside === undefined) return false
      agreedAt ??= Date.now()
      if (outside.length === 0) return true
      if (Date.now() - agreedAt > rejoinAfterMs) {
        for (const name of outside.filter((n) => !restarted.includes(n))) {
          restarted.push(name)
          await podman(['restart', nodes.get(name) ?? name], { check: false, timeoutMs: 60_000 })
        }
      }
      return false
    },
    { timeoutMs, intervalMs: 1_000, message: 'every NATS node in the JetStream meta group' },
  )
  return restarted
}
