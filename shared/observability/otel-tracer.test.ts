import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { describe, expect, it } from 'vitest'
import { createOtelTracer } from './otel-tracer.ts'
import { exportFailureWarning } from './tracer-from-env.ts'
import { waitFor } from '../../test/harness/wait-for.ts'

async function collectorAnswering(status: number): Promise<Server & AsyncDisposable> {
  const server = createServer((req, res) => {
    req.resume()
    req.on('end', () => res.writeHead(status, { 'Content-Type': 'application/json' }).end('{}'))
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return Object.assign(server, {
    [Symbol.asyncDispose]: () => new Promise<void>((resolve) => server.close(() => resolve())),
  })
}

describe('span export failures', () => {
  it('are told with the number of spans lost, and a batch the collector takes is not', async () => {
    for (const [status, failed] of [
      [400, true],
      [200, false],
    ] as const) {
      await using collector = await collectorAnswering(status)
      const failures: number[] = []
      let answered = 0
      collector.on('request', () => answered++)
      const tracer = createOtelTracer({
        service: 'test',
        version: '0',
        tracesUrl: `http://127.0.0.1:${(collector.address() as AddressInfo).port}/v1/traces`,
        scheduleDelayMs: 20,
        onExportFailure: (spans) => failures.push(spans),
      })
      for (const name of ['a', 'b']) tracer.startSpan(name, { kind: 'internal' }).end()
      await waitFor(() => answered > 0, { message: 'the collector asked' })
      await tracer.shutdown()
      expect(failures).toStrictEqual(failed ? [2] : [])
    }
  })

  it('are logged at most once a minute, with the spans lost since the last line', () => {
    const lines: { spansLost: number }[] = []
    let now = 0
    const logger = { warn: (fields: unknown) => void lines.push(fields as { spansLost: number }) }
    const warn = exportFailureWarning(logger, 60_000, () => now)
    warn(3, undefined)
    now = 30_000
    warn(4, undefined)
    warn(5, undefined)
    now = 61_000
    warn(1, new Error('refused'))
    expect(lines.map((l) => l.spansLost)).toStrictEqual([3, 10])
  })

  it("say the exporter's message and status, never the collector's answer (it may echo a header's API key)", () => {
    const lines: unknown[] = []
    const warn = exportFailureWarning({ warn: (fields: unknown) => void lines.push(fields) }, 0)
    const error = Object.assign(new Error('Unauthorized'), {
      code: 401,
      data: '{"headers":{"x-api-key":"SUPERSECRETCOLLECTORKEY"}}',
    })
    warn(2, error)
    expect(lines).toStrictEqual([{ error: 'Unauthorized', status: 401, spansLost: 2 }])
    expect(JSON.stringify(lines)).not.toContain('SUPERSECRET')
  })
})
