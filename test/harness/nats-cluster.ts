// A JetStream cluster of real nats-servers on 127.0.0.1, for failover tests.
//   await using cluster = await startNatsCluster({ size: 3 })
//   const nc = await connect(cluster.connectOptions())
import { mkdir, mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { NatsConnection } from '@nats-io/transport-node'
import { jetstreamManager } from '@nats-io/jetstream'
import type { ConnectionOptions } from '@nats-io/nats-core'
import type { Identity } from '../../shared/security/access.ts'
import { waitForJetStreamCluster } from './cluster-ready.ts'
import { authAs, testSecrets } from './test-secrets.ts'
import { launchNatsServer, natsServerBin, NatsServerStartError } from './nats-server.ts'
import type { NatsServerHandle } from './nats-server.ts'
import { freePorts, waitFor } from './wait-for.ts'

export interface NatsClusterOptions {
  /** Number of nodes (default 3). */
  size?: number
  /** Cluster name; nodes are `<name>-n1` ... (default: unique per process). */
  name?: string
  /** Extra config text for every node. */
  config?: string
  /** Deadline for each node's "Server is ready" (default 10 s). */
  readyTimeoutMs?: number
  /** Deadline for meta-group membership, the meta-leader and stream placement after the nodes are ready (default 20 s). */
  jetStreamTimeoutMs?: number
  /** How long a node's `stop()` waits after SIGTERM before SIGKILL (default 5 s). */
  stopTimeoutMs?: number
  bin?: string
  /** Chooses the route ports (default: `freePorts`); the harness's own test hands out a taken one. */
  routePorts?: (count: number) => Promise<number[]>
}

export interface NatsCluster extends AsyncDisposable {
  readonly name: string
  /** Every node's client URL, in node order. */
  readonly urls: string[]
  readonly nodes: NatsServerHandle[]
  /** Options to connect to every node as `identity` (admin by default). */
  connectOptions(identity?: Identity): ConnectionOptions
  /** The node with this `server_name`; throws if there is none. */
  nodeByName(name: string): NatsServerHandle
  /** Stops every node and removes the temp dir. */
  dispose(): Promise<void>
}

let counter = 0

/** Attempts at a cluster start when a node lost its route port to another process (see below). */
const PORT_RACE_ATTEMPTS = 3

export async function startNatsCluster(opts: NatsClusterOptions = {}): Promise<NatsCluster> {
  const name = opts.name ?? `tc-${process.pid}-${++counter}`
  const bin = opts.bin ?? (await natsServerBin())
  for (let attempt = 1; ; attempt++) {
    try {
      return await startCluster(name, bin, opts)
    } catch (err) {
      if (!(err instanceof RoutePortTakenError) || attempt >= PORT_RACE_ATTEMPTS) throw err
    }
  }
}

async function startCluster(name: string, bin: string, opts: NatsClusterOptions): Promise<NatsCluster> {
  const { size = 3, readyTimeoutMs = 10_000, jetStreamTimeoutMs = 20_000, stopTimeoutMs = 5_000 } = opts
  const root = await mkdtemp(join(tmpdir(), 'nats-cluster-'))
  // Route ports must be known up front: every node lists all the others. They
  // are free when chosen, but any process binding port 0 (a node's own client
  // port included) may be handed one before its node listens on it.
  const routePorts = await (opts.routePorts ?? freePorts)(size)
  // Nodes authenticate to each other: nothing else on the network can join as a route.
  const { routePassword } = testSecrets()
  const routeUrl = (port: number): string => `"nats-route://route:${routePassword}@127.0.0.1:${port}"`
  const routeAuth = `authorization { user: "route", password: ${JSON.stringify(routePassword)} }`

  const launches = routePorts.map(async (routePort, i) => {
    const nodeName = `${name}-n${i + 1}`
    const dir = join(root, `n${i + 1}`)
    await mkdir(dir)
    const routes = routePorts.filter((p) => p !== routePort).map(routeUrl)
    const cluster = `cluster { name: ${JSON.stringify(name)}, listen: "127.0.0.1:${routePort}", ${routeAuth}, routes: [${routes.join(', ')}] }`
    return launchNatsServer({
      dir,
      name: nodeName,
      websocket: false,
      // /jsz shows who is in the JetStream meta group (see cluster-ready.ts).
      monitor: true,
      config: [cluster, opts.config ?? ''].join('\n'),
      auth: true,
      readyTimeoutMs,
      stopTimeoutMs,
      bin,
    })
  })
  const settled = await Promise.allSettled(launches)
  const nodes = settled.flatMap((s) => (s.status === 'fulfilled' ? [s.value] : []))
  const dispose = async (): Promise<void> => {
    await Promise.allSettled(nodes.map((n) => n.dispose()))
    await rm(root, { recursive: true, force: true })
  }
  const failed = settled.find((s) => s.status === 'rejected')
  if (failed !== undefined) {
    await dispose()
    // The route listener may fail before "Server is ready" is logged, too.
    const reason: unknown = failed.reason
    if (reason instanceof NatsServerStartError && ROUTE_BIND_FAILED.test(reason.log))
      throw new RoutePortTakenError(reason.message, { cause: reason })
    throw reason
  }

  try {
    // "Server is ready" comes before the route listener: a node that then
    // fails to bind its route port exits with a fatal log line.
    await waitFor(() => nodes.every(listensForRoutes) || nodes.some((n) => !n.running), {
      timeoutMs: readyTimeoutMs,
      intervalMs: 20,
      message: 'every node listening for route connections',
    })
    const lost = nodes.filter((n) => !n.running && ROUTE_BIND_FAILED.test(n.log()))
    if (lost.length > 0) {
      throw new RoutePortTakenError(
        `route port taken before ${lost.map((n) => n.name).join(', ')} could listen`,
      )
    }
    await waitForJetStreamCluster(nodes, { timeoutMs: jetStreamTimeoutMs })
  } catch (err) {
    const logs = nodes.map((n) => `--- ${n.name} ---\n${n.log()}`).join('\n')
    await dispose()
    const Failure = err instanceof RoutePortTakenError ? RoutePortTakenError : NatsClusterStartError
    throw new Failure(`${err instanceof Error ? err.message : String(err)}\n${logs}`, { cause: err })
  }
  return {
    name,
    urls: nodes.map((n) => n.url),
    nodes,
    connectOptions: (identity) => ({ servers: nodes.map((n) => n.url), ...authAs(identity) }),
    nodeByName(nodeName) {
      const node = nodes.find((n) => n.name === nodeName)
      if (node === undefined) throw new Error(`no node ${nodeName} in ${nodes.map((n) => n.name).join(', ')}`)
      return node
    },
    dispose,
    [Symbol.asyncDispose]: dispose,
  }
}

const ROUTE_BIND_FAILED = /Error listening on router port: .*address already in use/

function listensForRoutes(node: NatsServerHandle): boolean {
  return node.log().includes('Listening for route connections on')
}

export class NatsClusterStartError extends Error {
  override readonly name: string = 'NatsClusterStartError'
}

/** A node could not listen on its route port: another process took it after it was chosen. */
export class RoutePortTakenError extends NatsClusterStartError {
  override readonly name = 'RoutePortTakenError'
}

/**
 * Polls `streams.info` until the stream has a RAFT leader (other than
 * `excluding`, e.g. a node just killed) and returns that leader's server name.
 */
export async function waitForStreamLeader(
  nc: NatsConnection,
  stream: string,
  timeoutMs = 10_000,
  excluding?: string,
): Promise<string> {
  const jsm = await jetstreamManager(nc, { checkAPI: false, timeout: 1_000 })
  return waitFor(
    async () => {
      const leader = (await jsm.streams.info(stream)).cluster?.leader
      return leader !== undefined && leader !== '' && leader !== excluding ? leader : undefined
    },
    {
      timeoutMs,
      intervalMs: 100,
      message: `a leader for stream ${stream}${excluding ? ` other than ${excluding}` : ''}`,
    },
  )
}
