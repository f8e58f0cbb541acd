// How to run a worker on each runtime, in one place for `npm start -- --runtime=...`
// and the runtime tests (test/runtimes/). deno.json's tasks are `denoTask(worker)`
// (checked by scripts/runtime-commands.test.ts).
import { join } from 'node:path'

export const RUNTIMES = ['bun', 'node', 'deno'] as const
export type Runtime = (typeof RUNTIMES)[number]

export interface RuntimeCommand {
  cmd: string
  args: string[]
}

export interface CommandOptions {
  /** The project root (absolute). */
  root: string
  /** Where `scripts/build-node.ts` put the Node bundles (default `<root>/dist/node`). */
  nodeDist?: string
  /** The Node binary (default: the one running this code, else `node`). */
  node?: string
  /** Deno: the one folder it may write (`npm start`'s state: the gateway's ledger file). */
  writeDir?: string
}

/**
 * Deno: network, environment, the host name pino reads, and reading files
 * (secrets given as `NAME_FILE`, which may be anywhere); no writes but where
 * a caller names (`CommandOptions.writeDir`).
 */
export const DENO_PERMISSIONS = [
  '--allow-net',
  '--allow-env',
  '--allow-sys=hostname',
  '--allow-read',
] as const

/**
 * Deno.serve aborts a request's signal when its response was sent, unless
 * told not to: the project reads an aborted signal as a client that left
 * (`isClientAbort`), and Deno 2.9 warns on stderr, outside the JSON logs,
 * when a handler reads it. With this flag the signal aborts only when the
 * client goes away, as on Bun and Node.
 */
export const DENO_FLAGS = [...DENO_PERMISSIONS, '--unstable-no-legacy-abort'] as const

/** The Deno entry of a worker: the order service has its own (WebSocket NATS); the others run `main.ts`. */
export function denoEntry(worker: string): string {
  return worker === 'order' ? 'workers/order/deno.ts' : `workers/${worker}/main.ts`
}

export function workerCommand(
  runtime: Runtime,
  worker: string,
  { root, nodeDist, node, writeDir }: CommandOptions,
): RuntimeCommand {
  switch (runtime) {
    case 'bun':
      return { cmd: join(root, 'node_modules', '.bin', 'bun'), args: ['run', `workers/${worker}/main.ts`] }
    case 'node':
      return {
        cmd: node ?? nodeBinary(),
        args: [join(nodeDist ?? join(root, 'dist', 'node'), `${worker}.js`)],
      }
    case 'deno':
      return {
        cmd: join(root, 'node_modules', '.bin', 'deno'),
        args: [
          'run',
          ...DENO_FLAGS,
          ...(writeDir === undefined ? [] : [`--allow-write=${writeDir}`]),
          denoEntry(worker),
        ],
      }
  }
}

/**
 * deno.json's task for a worker (`npx deno task gateway`). The task names the
 * npm-installed Deno by path: `deno task` resolves a bare `deno` to
 * node_modules/.bin/deno first and runs that native binary as a script
 * ("Invalid or unexpected token"); a path runs it as a program.
 */
export function denoTask(worker: string): string {
  return ['./node_modules/.bin/deno', 'run', ...DENO_FLAGS, denoEntry(worker)].join(' ')
}

function nodeBinary(): string {
  return process.versions['bun'] === undefined && process.versions['deno'] === undefined
    ? process.execPath
    : 'node'
}
