import { spawn, type ChildProcess } from 'node:child_process'
import { connect } from 'node:net'
import { join } from 'node:path'
import { Hono } from 'hono'
import { afterEach, describe, expect, it } from 'vitest'
import { serveHttp } from '../runtime/server.ts'
import { limitBody } from './body-limit.ts'

const MAX = 64
const ROOT = join(import.meta.dirname, '..', '..')
const BUN = join(ROOT, 'node_modules', '.bin', 'bun')

/** Echoes how many bytes of body the handler got. */
function app(): Hono {
  return new Hono()
    .use(limitBody(MAX))
    .post('/', async (c) => c.json({ bytes: new TextEncoder().encode(await c.req.text()).byteLength }))
}

/** Writes `raw` on one connection and reads until the server closes it or 5 s pass. */
function exchange(port: number, raw: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1')
    const chunks: Buffer[] = []
    const timer = setTimeout(() => {
      socket.destroy()
      resolve(Buffer.concat(chunks).toString('latin1'))
    }, 5_000)
    socket.on('data', (chunk) => chunks.push(chunk))
    socket.on('error', (error) => {
      clearTimeout(timer)
      reject(error)
    })
    socket.on('close', () => {
      clearTimeout(timer)
      resolve(Buffer.concat(chunks).toString('latin1'))
    })
    socket.end(raw)
  })
}

const post = (headers: string, body: string) =>
  `POST / HTTP/1.1\r\nHost: x\r\nContent-Type: text/plain\r\nConnection: close\r\n${headers}\r\n${body}`

const chunked = (body: string) => `${body.length.toString(16)}\r\n${body}\r\n0\r\n\r\n`

function statuses(answer: string): number[] {
  return [...answer.matchAll(/HTTP\/1\.1 (\d{3})/g)].map((m) => Number(m[1]))
}

const children: ChildProcess[] = []
const servers: { close(): Promise<void> }[] = []
afterEach(async () => {
  for (const child of children.splice(0)) child.kill('SIGKILL')
  await Promise.all(servers.splice(0).map((s) => s.close()))
})

/** The same app served by Bun (what the binaries run), in a child process; its port. */
async function onBun(): Promise<number> {
  const script = [
    `import { Hono } from 'hono'`,
    `import { serveHttp } from ${JSON.stringify(join(ROOT, 'shared/runtime/server.ts'))}`,
    `import { limitBody } from ${JSON.stringify(join(ROOT, 'shared/http/body-limit.ts'))}`,
    `const app = new Hono().use(limitBody(${MAX})).post('/', async (c) => c.json({ bytes: new TextEncoder().encode(await c.req.text()).byteLength }))`,
    `const server = await serveHttp({ fetch: app.fetch, port: 0, hostname: '127.0.0.1' })`,
    `console.log('port ' + server.port)`,
  ].join('\n')
  const child = spawn(BUN, ['-e', script], { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'] })
  children.push(child)
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('bun did not print its port within 15 s')), 15_000)
    let out = ''
    child.stdout?.on('data', (chunk: Buffer) => {
      out += chunk.toString()
      const port = /port (\d+)/.exec(out)?.[1]
      if (port !== undefined) {
        clearTimeout(timer)
        resolve(Number(port))
      }
    })
    child.once('exit', (code) => reject(new Error(`bun exited with ${code}: ${out}`)))
  })
}

async function onNode(): Promise<number> {
  const server = await serveHttp({ fetch: app().fetch, port: 0, hostname: '127.0.0.1' })
  servers.push(server)
  return server.port
}

describe.each([
  ['Node', onNode],
  ['Bun', onBun],
])('limitBody over a real connection on %s', (_runtime, start) => {
  it('hands on a body whose declared length is within the limit', async () => {
    const port = await start()
    const answer = await exchange(port, post('Content-Length: 5\r\n', 'hello'))
    expect(statuses(answer)).toStrictEqual([200])
    expect(answer).toContain('{"bytes":5}')
  })

  it('refuses a declared length over the limit with 413', async () => {
    const port = await start()
    const body = 'x'.repeat(MAX + 1)
    expect(statuses(await exchange(port, post(`Content-Length: ${body.length}\r\n`, body)))).toStrictEqual([
      413,
    ])
  })

  it('reads only the declared bytes of a body that is longer than its Content-Length', async () => {
    const port = await start()
    // The bytes past the declared length are not this request's body: either
    // the handler sees 10 or the server refuses the garbage after them (Node
    // answers the whole connection 400); never a body of more than 10 bytes.
    const answer = await exchange(port, post('Content-Length: 10\r\n', 'y'.repeat(10 * MAX)))
    const seen = statuses(answer)
    expect(seen.length).toBeGreaterThan(0)
    expect(seen.every((status) => status === 200 || status === 400)).toBe(true)
    expect(
      [...answer.matchAll(/"bytes":(\d+)/g)].map((m) => Number(m[1])).filter((n) => n !== 10),
    ).toStrictEqual([])
  })

  it('counts a chunked body and refuses it past the limit', async () => {
    const port = await start()
    const small = await exchange(port, post('Transfer-Encoding: chunked\r\n', chunked('abc')))
    expect(statuses(small)).toStrictEqual([200])
    expect(small).toContain('{"bytes":3}')
    const big = await exchange(port, post('Transfer-Encoding: chunked\r\n', chunked('z'.repeat(MAX + 1))))
    expect(statuses(big)).toStrictEqual([413])
  })
})
