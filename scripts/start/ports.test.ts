import { createServer, type Server } from 'node:net'
import { afterEach, describe, expect, it } from 'vitest'
import { checkPorts } from './ports.ts'

const servers: Server[] = []
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => new Promise((done) => s.close(done))))
})

const setting = (port: number, variable: string) => ({ port, variable, mayFallBack: false }) as never

describe('the ports npm start checks before it starts', () => {
  it('names HOST, once, when the host cannot be listened on, and a busy port by its variable', async () => {
    const busy = createServer()
    servers.push(busy)
    await new Promise<void>((done) => busy.listen({ host: '127.0.0.1', port: 0 }, done))
    const port = (busy.address() as { port: number }).port
    const plan = await checkPorts([
      { what: 'order', host: '192.0.2.7', setting: setting(port + 1, 'ORDER_PORT') },
      { what: 'payment', host: '192.0.2.7', setting: setting(port + 2, 'PAYMENT_PORT') },
      { what: 'nats-server', host: '127.0.0.1', setting: setting(port, 'NATS_PORT') },
    ])
    expect(plan.problems).toHaveLength(2)
    expect(plan.problems[0]).toMatch(/^cannot listen on 192\.0\.2\.7 \(HOST\): .*EADDRNOTAVAIL/)
    expect(plan.problems[1]).toBe(
      `port ${port} is in use (NATS_PORT, nats-server): another npm start may be running; stop it or set NATS_PORT`,
    )
  })
})
