// GATEWAY_LEDGER_FILE on the real gateway process (Bun): what was answered
// survives kill -9, and a bad journal stops the start naming its line.
import { appendFileSync, mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterAll, describe, expect, it } from 'vitest'
import { workerCommand } from '../../scripts/runtime-commands.ts'
import { spawnService, stopAllServices, type ServiceHandle } from '../../test/harness/process.ts'
import { waitFor } from '../../test/harness/wait-for.ts'

const root = fileURLToPath(new URL('../../', import.meta.url))
const SECRET_KEY = 'gw_sk_ledger_file_test'
const authorized = { Authorization: `Bearer ${SECRET_KEY}` }
const dir = mkdtempSync(join(tmpdir(), 'gateway-ledger-'))
const ledgerFile = join(dir, 'state', 'gateway', 'ledger.jsonl')

afterAll(async () => {
  await stopAllServices()
  rmSync(dir, { recursive: true, force: true })
})

/** Bun from source, or Deno as `npm start -- --runtime=deno` runs it (writes allowed in its state folder only). */
const commands = {
  bun: { cmd: `${root}node_modules/.bin/bun`, args: ['run', 'workers/gateway/main.ts'] },
  deno: workerCommand('deno', 'gateway', { root, writeDir: join(dir, 'state') }),
}

async function startGateway(
  file = ledgerFile,
  runtime: keyof typeof commands = 'bun',
): Promise<{ gateway: ServiceHandle; base: string }> {
  const gateway = await spawnService({
    ...commands[runtime],
    cwd: root,
    env: { PORT: '0', HOST: '127.0.0.1', GATEWAY_SECRET_KEY: SECRET_KEY, GATEWAY_LEDGER_FILE: file },
    readyLine: /"msg":"listening"/,
  })
  const listening = gateway.lines().find((line) => line.includes('"msg":"listening"')) ?? '{}'
  return { gateway, base: `http://127.0.0.1:${(JSON.parse(listening) as { port: number }).port}` }
}

const post = (base: string, path: string, key: string, body: unknown) =>
  fetch(`${base}${path}`, {
    method: 'POST',
    headers: { ...authorized, 'Content-Type': 'application/json', 'Idempotency-Key': key },
    body: JSON.stringify(body),
  })
const charge = { amountCents: 2500, currency: 'EUR', token: 'tok_ok', orderId: 'kill-order-1' }

describe('the gateway with GATEWAY_LEDGER_FILE', () => {
  it('on Deno, with writes allowed in its state folder, keeps a charge across a restart', async () => {
    const file = join(dir, 'state', 'deno', 'ledger.jsonl')
    const first = await startGateway(file, 'deno')
    const charged = await post(first.base, '/charges', 'deno-charge-1', { ...charge, orderId: 'deno-1' })
    const made = (await charged.json()) as { id: string }
    expect(charged.status).toBe(201)
    await first.gateway.stop()
    const second = await startGateway(file, 'deno')
    const shown = await fetch(`${second.base}/charges/${made.id}`, { headers: authorized })
    expect([shown.status, ((await shown.json()) as { id: string }).id]).toStrictEqual([200, made.id])
    await second.gateway.stop()
  }, 60_000)

  it('keeps a charge and its partial refund across kill -9, and replays the charge key', async () => {
    const first = await startGateway()
    const charged = await post(first.base, '/charges', 'kill-charge-1', charge)
    const made = (await charged.json()) as { id: string }
    const refunded = await post(first.base, '/refunds', 'kill-refund-1', {
      chargeId: made.id,
      amountCents: 700,
    })
    const refund = (await refunded.json()) as unknown
    expect([charged.status, refunded.status]).toStrictEqual([201, 201])

    process.kill(first.gateway.pid, 'SIGKILL')
    expect(await first.gateway.exited).toStrictEqual({ code: null, signal: 'SIGKILL' })

    const second = await startGateway()
    const shown = await fetch(`${second.base}/charges/${made.id}`, { headers: authorized })
    const replay = await post(second.base, '/charges', 'kill-charge-1', charge)
    const refundReplay = await post(second.base, '/refunds', 'kill-refund-1', {
      chargeId: made.id,
      amountCents: 700,
    })
    const tooMuch = await post(second.base, '/refunds', 'kill-refund-2', {
      chargeId: made.id,
      amountCents: 1801,
    })

    expect([shown.status, await shown.json()]).toStrictEqual([
      200,
      { ...made, amountRefundedCents: 700, refunds: [refund] },
    ])
    expect([replay.status, replay.headers.get('Idempotent-Replayed')]).toStrictEqual([201, 'true'])
    expect(((await replay.json()) as { id: string }).id).toBe(made.id)
    expect([refundReplay.status, await refundReplay.json()]).toStrictEqual([201, refund])
    expect(tooMuch.status).toBe(422)
    expect(readFileSync(ledgerFile, 'utf8')).not.toContain('tok_')
    await second.gateway.stop()
  })

  it('starts after a torn last line with a warning, and refuses a bad line naming it', async () => {
    appendFileSync(ledgerFile, '{"v":1,"type":"refund_succ')
    const torn = await startGateway()
    const warned = torn.gateway.lines().find((line) => line.includes('torn last line'))
    const charges = await fetch(`${torn.base}/charges`, { headers: authorized })
    expect(JSON.parse(warned ?? '{}')).toMatchObject({ level: 'warn', path: ledgerFile, line: 3 })
    expect(((await charges.json()) as { charges: unknown[] }).charges).toHaveLength(1)
    await torn.gateway.stop()

    const corrupt = join(dir, 'corrupt.jsonl')
    appendFileSync(corrupt, `${readFileSync(ledgerFile, 'utf8')}not json\n{"v":1}\n`)
    const refused = await spawnService({
      cmd: `${root}node_modules/.bin/bun`,
      args: ['run', 'workers/gateway/main.ts'],
      cwd: root,
      env: { PORT: '0', HOST: '127.0.0.1', GATEWAY_SECRET_KEY: SECRET_KEY, GATEWAY_LEDGER_FILE: corrupt },
    })
    await waitFor(() => !refused.running, {
      timeoutMs: 10_000,
      message: 'the gateway to refuse its ledger file',
    })
    expect(await refused.exited).toStrictEqual({ code: 1, signal: null })
    expect(refused.lines().at(-1)).toBe(
      `gateway failed to start: GATEWAY_LEDGER_FILE: cannot open the ledger file ${corrupt}: line 3: not JSON`,
    )
  })
})
