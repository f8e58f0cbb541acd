import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { afterEach, describe, expect, it } from 'vitest'
import { probeReady } from './ready-probe.ts'

const servers: Server[] = []
afterEach(async () => {
  for (const s of servers.splice(0)) await new Promise((done) => s.close(() => done(undefined)))
})

/** A local server answering /ready as `answer` says (never, for `hang`); its URL. */
async function serve(answer: { status: number; body: string } | 'hang'): Promise<string> {
  const server = createServer((_req, res) => {
    if (answer === 'hang') return
    res.writeHead(answer.status, { 'Content-Type': 'application/json' }).end(answer.body)
  })
  servers.push(server)
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}/ready`
}

async function probe(url: string) {
  const lines: string[] = []
  const code = await probeReady('order', url, (line) => lines.push(line))
  return { code, lines }
}

describe('probeReady', () => {
  it('exits 0 without a word on a 200', async () => {
    expect(await probe(await serve({ status: 200, body: '{"status":"ready"}' }))).toStrictEqual({
      code: 0,
      lines: [],
    })
  })

  it("exits 1 with the service's reason on a 503", async () => {
    const url = await serve({ status: 503, body: '{"status":"not_ready","reason":"not connected to NATS"}' })
    expect(await probe(url)).toStrictEqual({
      code: 1,
      lines: [`order healthcheck: ${url} answered 503: not connected to NATS\n`],
    })
  })

  it('exits 1 saying nothing answered, or that the 2 s ran out', async () => {
    const closed = await serve({ status: 200, body: '' })
    await new Promise((done) => servers.pop()?.close(() => done(undefined)))
    const refused = await probe(closed)
    expect(refused.code).toBe(1)
    expect(refused.lines).toStrictEqual([expect.stringMatching(/^order healthcheck: .* did not answer: /)])
    const hanging = await serve('hang')
    expect(await probe(hanging)).toStrictEqual({
      code: 1,
      lines: [`order healthcheck: ${hanging} did not answer within 2 s\n`],
    })
  }, 10_000)
})
