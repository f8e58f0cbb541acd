/**
 * Total bytes of the system's images both ways, built with podman from
 * scripts/container/Containerfile on the local stand-in bases:
 *   per-service: four app images, each with its own binary (BINARY=<service>);
 *   multi-call:  one app image (BINARY=order-saga) that every service runs.
 * Both with the nats image (which reuses the multi-call binary as its probe).
 * Bytes are those of `podman save --multi-image-archive` of the images together
 * (a layer stored once however many images hold it: what a host stores and pulls),
 * also gzip'ed (about what a registry transfers).
 *
 *   bash scripts/container/install-tools.sh && bun scripts/container/measure-images.ts
 *
 * The measured images are removed afterwards; podman's build cache stays.
 */
import { spawnSync } from 'node:child_process'
import { mkdtempSync, rmSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

const ROOT = join(import.meta.dirname, '..', '..')
const SERVICES = ['order', 'inventory', 'payment', 'gateway'] as const
const BASES = {
  BUILDER_IMAGE: 'localhost/order-saga-bun:local',
  RUNTIME_IMAGE: 'localhost/order-saga-base:local',
}
const env = {
  ...process.env,
  CONTAINERS_CONF:
    process.env['CONTAINERS_CONF'] ?? join(ROOT, '.local', 'container-tools', 'containers.conf'),
}

function sh(cmd: string, args: readonly string[]): string {
  const run = spawnSync(cmd, args, { cwd: ROOT, env, encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 })
  if (run.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed:\n${run.stdout}${run.stderr}`)
  return run.stdout
}

function build(tag: string, target: 'app' | 'nats', args: Record<string, string>): number {
  const started = performance.now()
  const buildArgs = Object.entries({ ...BASES, ...args }).flatMap(([k, v]) => ['--build-arg', `${k}=${v}`])
  sh('podman', [
    'build',
    '--format',
    'docker',
    '--pull=never',
    '-f',
    'scripts/container/Containerfile',
    '--target',
    target,
    ...buildArgs,
    '-t',
    tag,
    '.',
  ])
  return performance.now() - started
}

function savedBytes(images: readonly string[]): { raw: number; gzip: number } {
  const dir = mkdtempSync(join(tmpdir(), 'order-saga-images-'))
  try {
    const tar = join(dir, 'images.tar')
    sh('podman', ['save', '--format', 'docker-archive', '--multi-image-archive', '-o', tar, ...images])
    const raw = statSync(tar).size
    sh('gzip', ['-1', tar])
    return { raw, gzip: statSync(`${tar}.gz`).size }
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}

const mb = (bytes: number): string => `${(bytes / 1e6).toFixed(1)} MB`
const imageSize = (ref: string): number =>
  Number(sh('podman', ['image', 'inspect', '--format', '{{.Size}}', ref]).trim())

sh('bash', ['scripts/container/make-local-base.sh'])
const lines: string[] = []
const variants = [
  {
    name: 'per-service binaries',
    images: () => {
      const ms = SERVICES.map((s) =>
        build(`localhost/order-saga-${s}:per-service`, 'app', { BINARY: s, SERVICE: s }),
      )
      ms.push(build('localhost/order-saga-nats:per-service', 'nats', {}))
      return {
        apps: SERVICES.map((s) => `localhost/order-saga-${s}:per-service`),
        nats: 'localhost/order-saga-nats:per-service',
        ms,
      }
    },
  },
  {
    name: 'one multi-call binary',
    images: () => {
      const ms = [
        build('localhost/order-saga:multi', 'app', { BINARY: 'order-saga' }),
        build('localhost/order-saga-nats:multi', 'nats', {}),
      ]
      return { apps: ['localhost/order-saga:multi'], nats: 'localhost/order-saga-nats:multi', ms }
    },
  },
]
const built: string[] = []
for (const variant of variants) {
  const { apps, nats, ms } = variant.images()
  built.push(...apps, nats)
  const appOnly = savedBytes(apps)
  const all = savedBytes([...apps, nats])
  lines.push(
    `${variant.name}:`,
    ...[...apps, nats].map((ref) => `  ${ref.padEnd(42)} ${mb(imageSize(ref))} (podman image inspect .Size)`),
    `  app images together:       ${mb(appOnly.raw)} (${appOnly.raw} B), gzip -1 ${mb(appOnly.gzip)}`,
    `  with the nats image:       ${mb(all.raw)} (${all.raw} B), gzip -1 ${mb(all.gzip)}`,
    `  build time (this run):     ${ms.map((t) => `${(t / 1000).toFixed(1)} s`).join(', ')}`,
  )
}
sh('podman', ['rmi', ...built])
process.stdout.write(`${lines.join('\n')}\n`)
