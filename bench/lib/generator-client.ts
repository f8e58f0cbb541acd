// Runs the Node load generator (bench/load/generator.ts, bundled) and the raw
// JetStream publisher as child processes and reads their one JSON line.
import { execFile } from 'node:child_process'
import type { GeneratorConfig, GeneratorResult } from '../load/generator.ts'
import type { JsPublishConfig } from '../load/js-publish.ts'
import { BUN, ROOT } from './builds.ts'

function runJson<T>(cmd: string, args: string[], timeoutMs: number): Promise<T> {
  return new Promise((resolve, reject) => {
    execFile(
      cmd,
      args,
      { cwd: ROOT, timeout: timeoutMs, maxBuffer: 16 * 1024 * 1024 },
      (error, stdout, stderr) => {
        if (error !== null)
          return reject(new Error(`${cmd} ${args[0] ?? ''} failed: ${error.message}\n${stderr.slice(-2000)}`))
        try {
          resolve(JSON.parse(stdout.trim().split('\n').at(-1) ?? '') as T)
        } catch (parseError) {
          reject(
            new Error(
              `no JSON from ${cmd} ${args[0] ?? ''}: ${String(parseError)}\n${stdout.slice(-500)}${stderr.slice(-500)}`,
            ),
          )
        }
      },
    )
  })
}

export function runGenerator(bundle: string, config: GeneratorConfig): Promise<GeneratorResult> {
  const bound = config.warmupMs + config.durationMs + config.settleTimeoutMs + 60_000
  return runJson<GeneratorResult>('node', [bundle, JSON.stringify(config)], bound)
}

/** The raw publisher runs on Bun, the runtime the workers run on (nats.js publishes faster there than on Node). */
export function runJsPublish(
  config: JsPublishConfig,
): Promise<{ published: number; perSec: number; errors: number }> {
  return runJson(BUN, ['bench/load/js-publish.ts', JSON.stringify(config)], config.durationMs + 60_000)
}
