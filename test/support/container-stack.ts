// compose.yaml brought up for real: Docker Compose v2 against `podman system
// service`, images built from scripts/container/Containerfile on local stand-in
// base images, the secrets made by `npm run compose:secrets` into a temp folder,
// every host port a free one, health checks run by a loop of ours (podman 4.3
// schedules them with systemd timers, absent here), and everything taken down
// again: containers, volumes, network, the podman service, the secrets.
import { writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { freePorts, waitFor } from '../harness/wait-for.ts'
import { healNatsMetaGroup } from './container-meta.ts'
import { makeStackSecrets } from './container-secrets.ts'
import { startHealthLoop } from './container-health.ts'
import {
  ROOT,
  run,
  startPodmanService,
  type ContainerTools,
  type RunOptions,
  type RunResult,
} from './container-tools.ts'

/** The local stand-ins scripts/container/make-local-base.sh builds. */
export const LOCAL_BASE_IMAGES = {
  BUILDER_IMAGE: 'localhost/order-saga-bun:local',
  RUNTIME_IMAGE: 'localhost/order-saga-base:local',
} as const

export const SERVICES = [
  'nats-1',
  'nats-2',
  'nats-3',
  'gateway',
  'order',
  'order-status',
  'inventory',
  'payment',
  'analytics',
] as const
export type ServiceName = (typeof SERVICES)[number]

/** The standard lane's copies compose.lanes.yaml adds beside inventory, payment and order-status. */
export const LANE_COPIES = ['inventory-standard', 'payment-standard', 'order-status-standard'] as const
export type ContainerService = ServiceName | (typeof LANE_COPIES)[number]

/** `compose` run on compose.yaml and, after it, these files of the project (e.g. compose.lanes.yaml). */
export interface ComposeRunOptions extends RunOptions {
  overlays?: readonly string[]
}

const PORT_VARS = [
  'ORDER_PORT',
  'INVENTORY_PORT',
  'PAYMENT_PORT',
  'GATEWAY_PORT',
  'NATS_1_PORT',
  'NATS_2_PORT',
  'NATS_3_PORT',
  'ORDER_STATUS_PORT',
  'ANALYTICS_PORT',
] as const

export interface ComposeStackOptions {
  project: string
  /** ORDER_SAGA_TAG of the images. */
  tag: string
  /** Progress lines (default: console.log). */
  log?: (line: string) => void
}

/** Builds the images, brings compose.yaml up and waits until every service is healthy. */
export async function startComposeStack(
  tools: ContainerTools,
  { project, tag, log = console.log }: ComposeStackOptions,
) {
  const timings: Record<string, number> = {}
  const timed = async <T>(step: string, fn: () => Promise<T>): Promise<T> => {
    const started = performance.now()
    try {
      return await fn()
    } finally {
      timings[step] = Math.round(performance.now() - started)
      log(`[compose] ${step}: ${(timings[step] / 1000).toFixed(1)} s`)
    }
  }
  const startedAt = new Date().toISOString()
  const podmanEnv = { CONTAINERS_CONF: tools.containersConf }
  await timed('base images', () =>
    run('bash', [join(ROOT, 'scripts/container/make-local-base.sh')], { env: podmanEnv, timeoutMs: 180_000 }),
  )
  const secrets = await timed('secrets', () => makeStackSecrets())
  const service = await startPodmanService(tools).catch(async (error: unknown) => {
    await secrets.remove()
    throw error
  })
  const ports = await freePorts(PORT_VARS.length)
  const env: Record<string, string> = {
    ...podmanEnv,
    ...secrets.composeEnv,
    ...LOCAL_BASE_IMAGES,
    DOCKER_HOST: service.dockerHost,
    DOCKER_BUILDKIT: '0',
    COMPOSE_BAKE: 'false',
    // One build at a time, so the app and nats images share the binary's layer.
    COMPOSE_PARALLEL_LIMIT: '1',
    COMPOSE_PROJECT_NAME: project,
    ORDER_SAGA_TAG: tag,
    PUBLISH_HOST: '127.0.0.1',
    ...Object.fromEntries(PORT_VARS.map((name, i) => [name, String(ports[i])])),
  }
  const compose = (
    args: readonly string[],
    { overlays = [], ...opts }: ComposeRunOptions = {},
  ): Promise<RunResult> =>
    run(
      tools.compose,
      [...['compose.yaml', ...overlays].flatMap((file) => ['-f', join(ROOT, file)]), ...args],
      { ...opts, env: { ...env, ...opts.env } },
    )
  const podman = (args: readonly string[], opts: RunOptions = {}): Promise<RunResult> =>
    run(tools.podman, args, { ...opts, env: { ...podmanEnv, ...opts.env } })
  const health = startHealthLoop(podman, project)

  const down = async (): Promise<void> => {
    await health.stop()
    await timed('down', () =>
      compose(['down', '--volumes', '--remove-orphans', '--timeout', '10'], { timeoutMs: 120_000 }),
    ).catch((error: unknown) => log(`[compose] down failed: ${String(error)}`))
    await service.stop()
    await secrets.remove()
    // Build stages and images of earlier runs that nothing uses any more (this run's stay cached).
    await podman(
      [
        'image',
        'prune',
        '--force',
        '--filter',
        'label=org.opencontainers.image.title=order-saga',
        '--filter',
        `until=${startedAt}`,
      ],
      { check: false },
    )
  }
  const status = async (): Promise<Map<string, string>> => {
    const ps = await podman([
      'ps',
      '-a',
      '--filter',
      `label=com.docker.compose.project=${project}`,
      '--format',
      '{{.Names}}\t{{.Status}}',
    ])
    return new Map(
      ps.stdout
        .trim()
        .split('\n')
        .filter(Boolean)
        .map((l) => l.split('\t') as [string, string]),
    )
  }
  const containerName = (name: ContainerService): string => `${project}-${name}-1`
  const waitHealthy = (
    names: readonly ContainerService[] = SERVICES,
    timeoutMs = 120_000,
  ): Promise<Map<string, string>> =>
    waitFor(
      async () => {
        const now = await status()
        return names.every((n) => now.get(containerName(n))?.includes('(healthy)')) ? now : undefined
      },
      { timeoutMs, intervalMs: 500, message: `${names.join(', ')} healthy` },
    ).catch(async (error: unknown) => {
      throw new Error(`${String(error)}\n${[...(await status())].join('\n')}`, { cause: error })
    })

  try {
    await compose(['down', '--volumes', '--remove-orphans'], { timeoutMs: 120_000 }) // a stale run's leftovers
    await timed('build', () => compose(['build'], { timeoutMs: 600_000 }))
    // `up` waits for the NATS nodes' health before it starts the workers: the loop runs the checks meanwhile.
    await timed('up', () => compose(['up', '--detach'], { timeoutMs: 180_000 }))
    const natsNodes = new Map((['nats-1', 'nats-2', 'nats-3'] as const).map((n) => [n, containerName(n)]))
    const rejoined = await timed('meta group', () => healNatsMetaGroup(podman, natsNodes))
    if (rejoined.length > 0)
      console.log(`[compose] restarted NATS nodes left out of the meta group: ${rejoined.join(', ')}`)
    await timed('healthy', () => waitHealthy())
  } catch (error) {
    const logs = await compose(['logs', '--no-color', '--tail', '30'], {
      check: false,
      timeoutMs: 30_000,
    }).catch(() => undefined)
    await down()
    throw new Error(`compose stack did not come up: ${String(error)}\n${logs?.stdout ?? ''}`, {
      cause: error,
    })
  }

  /** Every container's status and the last log lines of `names`; all logs go to a file named in it. */
  const diagnostics = async (names: readonly ContainerService[] = SERVICES, tail = 40): Promise<string> => {
    const logs = async (args: readonly string[]): Promise<string> => {
      const result = await compose(['logs', '--no-color', '--timestamps', ...args], {
        check: false,
        timeoutMs: 30_000,
      }).catch(() => undefined)
      return `${result?.stdout ?? ''}${result?.stderr ?? ''}`
    }
    const file = join(tmpdir(), `${project}-${Date.now()}.log`)
    await writeFile(file, await logs([]))
    const states = [...(await status().catch(() => new Map<string, string>()))].map((e) => e.join(': '))
    return [...states, `full logs: ${file}`, await logs(['--tail', String(tail), ...names])].join('\n')
  }
  const url = (i: number): string => `http://127.0.0.1:${ports[i]}`
  return {
    project,
    urls: { order: url(0), inventory: url(1), payment: url(2), gateway: url(3), orderStatus: url(7) },
    /** The published NATS ports; they take TLS clients only (connect with `admin`). */
    natsUrls: [4, 5, 6].map((i) => `tls://127.0.0.1:${ports[i]}`),
    natsPorts: [4, 5, 6].map((i) => ports[i] ?? 0),
    /** Client options of the admin NATS identity, trusting the stack's CA. */
    admin: secrets.admin,
    caFile: secrets.caFile,
    keys: secrets.keys,
    timings,
    compose,
    podman,
    containerName,
    waitHealthy,
    diagnostics,
    down,
    [Symbol.asyncDispose]: down,
  }
}

export type ComposeStack = Awaited<ReturnType<typeof startComposeStack>>
