// A new user's first hour, end to end: `npm start` with its state in a temp
// folder and ports of its own (a developer's running stack is not touched), an
// order confirmed, `npm run dlq -- list` without flags, a worker killed with
// SIGKILL and restarted by npm start, a second start refused, `npm run reset`
// refused while running, and Ctrl-C: workers stop before nats-server, no
// warning or error after the signal, exit code 0.
import { execFile } from 'node:child_process'
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { fromEnvFile, liveProcesses, readStackFile, type StackInfo } from '../scripts/start/run-dir.ts'
import { ServiceStartError, spawnService } from './harness/process.ts'
import { freePorts, waitFor } from './harness/wait-for.ts'

const ROOT = join(import.meta.dirname, '..')
const BUN = join(ROOT, 'node_modules', '.bin', 'bun')
const dirs: string[] = []

afterAll(() => {
  for (const dir of dirs) {
    // Whatever a failed run left: every process recorded in stack.json, by pid.
    const stack = readStackFile(dir)
    if (stack !== undefined) for (const { pid } of liveProcesses(stack)) process.kill(pid, 'SIGKILL')
    rmSync(dir, { recursive: true, force: true })
  }
})

function run(
  cmd: string,
  args: readonly string[],
  env: Record<string, string | undefined>,
): Promise<{ code: number; out: string }> {
  return new Promise((resolve) => {
    execFile(cmd, args, { cwd: ROOT, env: withoutUnset(env), timeout: 30_000 }, (error, stdout, stderr) => {
      const code = error === null ? 0 : typeof error.code === 'number' ? error.code : -1
      resolve({ code, out: `${stdout}${stderr}` })
    })
  })
}

function withoutUnset(env: Record<string, string | undefined>): Record<string, string> {
  const out: Record<string, string> = {}
  for (const [key, value] of Object.entries({ ...process.env, ...env }))
    if (value !== undefined) out[key] = value
  return out
}

/**
 * `npm start` with its state in a fresh temp folder, on free ports, logs as
 * JSON. A port found free can be taken by another test before npm start
 * checks it (it then refuses, having started nothing): up to three tries,
 * each on new ports, for that refusal only.
 */
async function startNpmStack(given: Record<string, string> = {}) {
  for (let attempt = 1; ; attempt++) {
    try {
      return await startNpmStackOnce(given)
    } catch (error) {
      const portTaken =
        error instanceof ServiceStartError && /\[start\] +port \d+ is in use/.test(error.message)
      if (!portTaken || attempt === 3) throw error
    }
  }
}

async function startNpmStackOnce(given: Record<string, string>) {
  const dir = mkdtempSync(join(tmpdir(), 'first-hour-'))
  dirs.push(dir)
  const [nats, ws, order, inventory, payment, gateway, analytics, operatorConsole, monitor] =
    await freePorts(9)
  const ports = { nats, ws, order, inventory, payment, gateway, analytics, console: operatorConsole, monitor }
  const env = {
    ORDER_SAGA_STATE_DIR: dir,
    NATS_PORT: String(nats),
    NATS_WS_PORT: String(ws),
    NATS_MONITOR_PORT: String(monitor),
    ORDER_PORT: String(order),
    INVENTORY_PORT: String(inventory),
    PAYMENT_PORT: String(payment),
    GATEWAY_PORT: String(gateway),
    ANALYTICS_PORT: String(analytics),
    CONSOLE_PORT: String(operatorConsole),
    LOG_FORMAT: 'json',
    npm_config_update_notifier: 'false',
    ...{ NATS_URL: undefined, HOST: undefined, PAYMENT_GATEWAY_URL: undefined, LOG_LEVEL: undefined },
    ...{ API_KEY: undefined, ADMIN_API_KEY: undefined, GATEWAY_SECRET_KEY: undefined },
    ...given,
  }
  // `npm start` itself: npm passes a Ctrl-C on to its script too, which must count once.
  const stack = await spawnService({
    cmd: 'npm',
    args: ['start'],
    cwd: ROOT,
    env,
    readyLine: /\[start\] Ctrl-C stops/,
    readyTimeoutMs: 60_000,
  })
  return { dir, ports, env, stack }
}

describe('npm start, the first hour', () => {
  it('runs the stack, survives a killed worker, refuses a second start and stops cleanly on Ctrl-C', async () => {
    const { dir, ports, env, stack } = await startNpmStack()
    const { nats, ws, order } = ports
    try {
      const info = readStackFile(dir) as StackInfo
      expect(info.natsUrl).toBe(`nats://127.0.0.1:${nats}`)
      expect(info.wsUrl).toBe(`ws://127.0.0.1:${ws}`)
      expect(stack.lines()).toContain(
        `[start]   export NATS_URL=nats://127.0.0.1:${nats}   # or: . ${dir}/env  (NATS_URL, the keys above, an admin NATS identity; mode 0600)`,
      )
      const envFile = readFileSync(join(dir, 'env'), 'utf8')
      expect(envFile).toContain(`export NATS_URL='nats://127.0.0.1:${nats}'`)
      // The monitoring port names each connection by its service (the upgrade runbook's check).
      expect(envFile).toContain(`export NATS_MONITOR_URL='http://127.0.0.1:${ports.monitor}'`)
      const connz = (await (
        await fetch(`http://127.0.0.1:${ports.monitor}/connz?limit=1024`, {
          signal: AbortSignal.timeout(5_000),
        })
      ).json()) as { connections: { name?: string }[] }
      expect(connz.connections.map((c) => c.name)).toEqual(
        expect.arrayContaining(['order', 'inventory', 'payment', 'analytics']),
      )

      const apiKey = /^export API_KEY='([^']*)'$/m.exec(envFile)?.[1]
      expect(apiKey, 'the env file exports the dev API key').toMatch(/^sk_client_/)
      const auth = { Authorization: `Bearer ${apiKey ?? ''}` }
      const confirmedOrder = async (customerId: string): Promise<void> => {
        const res = await fetch(`http://127.0.0.1:${order}/orders`, {
          method: 'POST',
          headers: { ...auth, 'Content-Type': 'application/json' },
          body: JSON.stringify({
            customerId,
            items: [{ sku: 'MUG-002', quantity: 1 }],
            paymentToken: 'tok_ok',
          }),
        })
        expect(res.status).toBe(202)
        const { orderId } = (await res.json()) as { orderId: string }
        await waitFor(
          async () => {
            const view = await fetch(`http://127.0.0.1:${order}/orders/${orderId}`, { headers: auth })
            return view.ok && ((await view.json()) as { status: string }).status === 'confirmed'
          },
          { timeoutMs: 20_000, intervalMs: 100, message: `order ${orderId} confirmed` },
        )
      }
      await confirmedOrder('first-hour-1')

      // Operator commands find the stack: from stack.json, and from the sourced env file.
      const noUrl = { ...env, NATS_URL: undefined }
      expect(await run(BUN, ['scripts/dlq.ts', 'list'], noUrl)).toStrictEqual({
        code: 0,
        out: 'no dead letters\n',
      })
      const sourced = await run('bash', ['-c', `. '${dir}/env' && exec '${BUN}' scripts/dlq.ts list`], {
        ...noUrl,
        ORDER_SAGA_STATE_DIR: undefined,
      })
      expect(sourced).toStrictEqual({ code: 0, out: 'no dead letters\n' })

      // A worker killed outright comes back by itself, and orders keep going through.
      const killed = info.workers['payment'] as number
      const cursor = stack.lineCount()
      process.kill(killed, 'SIGKILL')
      await stack.waitForLine(
        /\[start\] payment exited \(signal SIGKILL\) after [\d.]+ s; restarting in 0\.5 s/,
        10_000,
        cursor,
      )
      const restarted = await stack.waitForLine(
        /\[start\] payment restarted \(pid \d+, restart 1\)/,
        10_000,
        cursor,
      )
      const newPid = Number(/pid (\d+)/.exec(restarted)?.[1])
      expect(newPid).not.toBe(killed)
      await waitFor(() => readStackFile(dir)?.workers['payment'] === newPid, {
        message: 'stack.json with the new pid',
      })
      await confirmedOrder('first-hour-2')

      // nats-server killed outright: said at once, started again on its ports, and orders go through again.
      const natsPid = info.natsServerPid as number
      const natsCursor = stack.lineCount()
      process.kill(natsPid, 'SIGKILL')
      await stack.waitForLine(
        new RegExp(`\\[start\\] nats-server \\(pid ${natsPid}\\) exited with SIGKILL; starting it again`),
        10_000,
        natsCursor,
      )
      const back = await stack.waitForLine(/\[start\] nats-server is back \(pid \d+\)/, 20_000, natsCursor)
      const newNatsPid = Number(/pid (\d+)/.exec(back)?.[1])
      await waitFor(() => readStackFile(dir)?.natsServerPid === newNatsPid, {
        message: 'stack.json with the new nats-server pid',
      })
      await waitFor(
        async () => (await fetch(`http://127.0.0.1:${order}/ready`).catch(() => null))?.status === 200,
        { timeoutMs: 20_000, message: 'the intake ready again' },
      )
      await confirmedOrder('first-hour-3')
      // The console's order index retries what the outage interrupted (a warning each time): settled
      // before Ctrl-C, each order listed with its final status.
      const adminKey = /^export ADMIN_API_KEY='([^']*)'$/m.exec(envFile)?.[1] ?? ''
      for (const customer of ['first-hour-1', 'first-hour-2', 'first-hour-3'])
        await waitFor(
          async () => {
            const res = await fetch(
              `http://127.0.0.1:${ports.console}/console/api/orders?customer=${customer}`,
              {
                headers: { Authorization: `Bearer ${adminKey}` },
              },
            ).catch(() => null)
            if (res?.status !== 200) return false
            const { orders } = (await res.json()) as { orders: { status?: string }[] }
            return orders.length === 1 && orders[0]?.status === 'confirmed'
          },
          { timeoutMs: 20_000, message: `the console's index lists ${customer}'s order, confirmed` },
        )

      const second = await run('npm', ['start'], env)
      expect(second.code).toBe(1)
      expect(second.out).toContain(`npm start is already running from ${dir} (pid ${info.pid}`)
      expect(second.out).toContain(
        `port ${order} is in use (ORDER_PORT, order): another npm start may be running; stop it or set ORDER_PORT`,
      )
      const reset = await run(BUN, ['scripts/reset.ts'], env)
      expect(reset.code).toBe(1)
      expect(reset.out).toContain(`reset: a stack is running from ${dir}`)

      const beforeSignal = stack.lineCount()
      stack.signal('SIGINT')
      const exit = await Promise.race([
        stack.exited,
        new Promise((_, fail) =>
          setTimeout(() => fail(new Error('npm start still running 30 s after SIGINT')), 30_000),
        ),
      ])
      expect(exit).toStrictEqual({ code: 0, signal: null })
      const lines = stack.lines()
      const after = lines.slice(lines.length - (stack.lineCount() - beforeSignal))
      expect(after).toContain('[start] stopped')
      // Nothing said above info by the stop itself. An index write that timed out on a loaded machine
      // (its request 2 s, NATS_REQUEST_TIMEOUT_MS) is retried by the console, whenever it comes: seen
      // once in CI just after Ctrl-C; a write the stop broke would fail otherwise (a closed connection).
      const indexRetry = (l: string): boolean =>
        l.includes('"msg":"index write failed; will retry"') && l.includes('"type":"TimeoutError"')
      expect(
        after.filter(
          (l) =>
            /"level":"(warn|error|fatal)"|\[(WRN|ERR|FTL)\]|JetStreamStatusError/.test(l) && !indexRetry(l),
        ),
      ).toStrictEqual([])
      expect(after.filter(indexRetry).length).toBeLessThanOrEqual(1)
      expect(
        liveProcesses({ ...info, natsServerPid: newNatsPid, workers: { ...info.workers, payment: newPid } }),
      ).toStrictEqual([])
      expect(existsSync(join(dir, 'stack.json'))).toBe(false)
      expect(await run(BUN, ['scripts/reset.ts'], env)).toStrictEqual({ code: 0, out: `removed ${dir}\n` })
    } finally {
      await stack.stop(2_000)
    }
  }, 90_000)

  it("runs the README's shell blocks as printed (ports and state folder moved to the test's own)", async () => {
    // The contract for clients: npm start takes these keys from its environment.
    const given = {
      API_KEY: `readme-client-${process.pid}`,
      ADMIN_API_KEY: `readme-admin-${process.pid}`,
      GATEWAY_SECRET_KEY: `readme-gateway-${process.pid}`,
    }
    const { dir, ports, env, stack } = await startNpmStack(given)
    try {
      const envFile = fromEnvFile(readFileSync(join(dir, 'env'), 'utf8'))
      expect({
        API_KEY: envFile['API_KEY'],
        ADMIN_API_KEY: envFile['ADMIN_API_KEY'],
        GATEWAY_SECRET_KEY: envFile['GATEWAY_SECRET_KEY'],
      }).toStrictEqual(given)
      const readme = readFileSync(join(ROOT, 'README.md'), 'utf8')
      const blocks = [...readme.matchAll(/^```sh\n([\s\S]*?)^```$/gm)].map((m) => m[1] ?? '')
      expect(blocks.length).toBeGreaterThan(0)
      // The README's fixed ports and state folder are this test's free ones; nothing else changes.
      const script = blocks
        .join('\n')
        .replaceAll('. .local/run/env', `. '${dir}/env'`)
        .replaceAll('localhost:3000', `localhost:${ports.order}`)
        .replaceAll('localhost:3001', `localhost:${ports.inventory}`)
        .replaceAll('localhost:3002', `localhost:${ports.payment}`)
        .replaceAll('localhost:3003', `localhost:${ports.gateway}`)
        .replaceAll('localhost:3005', `localhost:${ports.analytics}`)
      expect(script).not.toMatch(/localhost:300[0-3]\b|\.local\/run/)
      const { code, out } = await run('bash', ['-e', '-o', 'pipefail', '-c', script], {
        ...env,
        NATS_URL: undefined,
      })
      expect(out).not.toMatch(/command not found|No such file|curl: \(/)
      expect(code, out).toBe(0)
      expect(out).toMatch(/HTTP\/1\.1 202 Accepted/)
      expect(out).toMatch(/"status":"confirmed"/)
      // The cancel step: the confirmed order is refunded in full and its two mugs go back on hand.
      expect(out).toMatch(/"status":"confirmed","cancellation":"requested","correlationId":"demo-corr-1"/)
      expect(out).toMatch(
        /"status":"cancelled",[^\n]*"reason":"customer_request",[^\n]*"refundId":"re_[0-9a-f]+",[^\n]*"refunds":\[\{"refundId":"re_[0-9a-f]+","chargeId":"ch_[0-9a-f]+","amountCents":2500,"reason":"customer_request"/,
      )
      expect(out).toMatch(/"sku":"MUG-002","onHand":25,"reserved":0,"available":25,"priceCents":1250/)
      expect(out).toMatch(/"reason":"out_of_stock"/)
      expect(out).toMatch(/"reason":"payment_declined"/)
      expect(out).toMatch(/"error":"invalid_order"/)
      expect(out).toMatch(/"sku":"SOCKS-006"/)
      expect(out).toContain('no dead letters')
    } finally {
      stack.signal('SIGINT')
      await Promise.race([stack.exited, new Promise((done) => setTimeout(done, 30_000))])
      await stack.stop(2_000)
    }
  }, 90_000)
})
