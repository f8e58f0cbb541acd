// Closed-model load with autocannon (pinned devDependency, through its API) run under Node:
// `connections` clients, each sending its next request when the last is answered.
import { execFile } from 'node:child_process'
import { join } from 'node:path'
import { ROOT } from './builds.ts'

export const ORDER_BODY =
  '{"customerId":"c-1","items":[{"sku":"SKU-1","quantity":1}],"paymentToken":"tok_ok"}'

export interface ClosedRun {
  /** 2xx answers per second over the run. */
  rps: number
  p50: number
  p99: number
  non2xx: number
  errors: number
  requests: number
}

export interface ClosedLoad {
  url: string
  connections: number
  durationS: number
  /** A fresh Idempotency-Key per request. */
  idempotencyKeys?: boolean
  /** `Authorization` header of every request (the client API key). */
  authorization: string
  /** Requests per second over all connections (autocannon's `overallRate`); none: as fast as answered. */
  rate?: number
}

interface AutocannonJson {
  duration: number
  '2xx': number
  non2xx: number
  errors: number
  timeouts: number
  requests: { total: number }
  latency: { p50: number; p99: number }
}

export function runAutocannon({
  url,
  connections,
  durationS,
  idempotencyKeys = false,
  authorization,
  rate,
}: ClosedLoad): Promise<ClosedRun> {
  const options = {
    url,
    connections,
    duration: durationS,
    headers: {
      'Content-Type': 'application/json',
      Authorization: authorization,
      ...(idempotencyKeys ? { 'Idempotency-Key': 'bench-[<id>]' } : {}),
    },
    body: ORDER_BODY,
    idReplacement: idempotencyKeys,
    ...(rate === undefined ? {} : { overallRate: rate }),
  }
  const args = [join(ROOT, 'bench', 'load', 'autocannon-run.mjs'), JSON.stringify(options)]
  return new Promise((resolve, reject) => {
    execFile(
      'node',
      args,
      { cwd: ROOT, timeout: (durationS + 60) * 1000, maxBuffer: 16 * 1024 * 1024 },
      (error, stdout, stderr) => {
        if (error !== null) return reject(new Error(`autocannon failed: ${error.message}\n${stderr}`))
        try {
          const out = JSON.parse(stdout) as AutocannonJson
          resolve({
            rps: out['2xx'] / out.duration,
            p50: out.latency.p50,
            p99: out.latency.p99,
            non2xx: out.non2xx,
            errors: out.errors + out.timeouts,
            requests: out.requests.total,
          })
        } catch (parseError) {
          reject(
            new Error(
              `autocannon printed no JSON: ${String(parseError)}\n${stdout.slice(0, 500)}\n${stderr.slice(0, 500)}`,
            ),
          )
        }
      },
    )
  })
}
