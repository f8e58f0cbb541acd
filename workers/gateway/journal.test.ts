import { appendFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { createLogger } from '../../shared/observability/logger.ts'
import { LedgerFileError, openLedgerFile } from './journal.ts'
import { Ledger, type LedgerFact } from './ledger.ts'

const F = 'c'.repeat(64)
const created = '2030-01-02T03:04:05.000Z'
const charge: LedgerFact = {
  type: 'charge_succeeded',
  key: 'key-1',
  fingerprint: F,
  charge: { id: 'ch_1', status: 'succeeded', amountCents: 900, currency: 'EUR', orderId: 'o-1', created },
}
const declined: LedgerFact = {
  type: 'charge_declined',
  key: 'key-2',
  fingerprint: F,
  orderId: 'o-2',
  code: 'card_declined',
}
const refund: LedgerFact = {
  type: 'refund_succeeded',
  key: 'refund-1',
  fingerprint: F,
  refund: {
    id: 're_1',
    object: 'refund',
    chargeId: 'ch_1',
    amountCents: 400,
    currency: 'EUR',
    orderId: 'o-1',
    status: 'succeeded',
    created,
  },
}

let dir = ''
afterEach(() => rmSync(dir, { recursive: true, force: true }))

function setUp() {
  dir = mkdtempSync(join(tmpdir(), 'gateway-journal-'))
  const lines: string[] = []
  const logger = createLogger({
    service: 'gateway',
    level: 'info',
    destination: { write: (l) => lines.push(l) },
  })
  const open = (path = join(dir, 'nested', 'folders', 'ledger.jsonl')) => openLedgerFile(path, { logger })
  const replayed = (path?: string) => {
    const facts: LedgerFact[] = []
    const journal = open(path)
    journal.replay((fact) => facts.push(fact))
    journal.close()
    return facts
  }
  return { open, replayed, path: join(dir, 'nested', 'folders', 'ledger.jsonl'), logs: () => lines }
}

describe('the ledger file', () => {
  it('creates its folders, appends one JSON line per fact and replays them in order', () => {
    const { open, replayed, path } = setUp()
    const journal = open()
    journal.replay(() => expect.unreachable('a new file has no facts'))
    for (const fact of [charge, declined, refund]) journal.append(fact)
    journal.close()

    expect(replayed()).toStrictEqual([charge, declined, refund])
    const lines = readFileSync(path, 'utf8').split('\n')
    expect(lines).toHaveLength(4)
    expect(lines.at(-1)).toBe('')
    expect(JSON.parse(lines[0] ?? '')).toStrictEqual({ v: 1, ...charge })
  })

  it('drops a torn last line with a warning and appends after the last whole line', () => {
    const { open, replayed, path, logs } = setUp()
    const journal = open()
    journal.append(charge)
    journal.close()
    appendFileSync(path, '{"v":1,"type":"charge_decl')

    const reopened = open()
    reopened.replay(() => undefined)
    reopened.append(declined)
    reopened.close()

    expect(replayed()).toStrictEqual([charge, declined])
    expect(logs().map((line) => JSON.parse(line) as Record<string, unknown>)).toMatchObject([
      { level: 'warn', path, line: 2, bytes: 26, msg: expect.stringContaining('torn last line') },
    ])
  })

  it.each([
    ['not JSON', '{"v":1,\n', 'not JSON'],
    ['an unknown version', `${JSON.stringify({ ...charge, v: 2 })}\n`, 'not a ledger fact (v: '],
    [
      'a fact without its charge',
      `${JSON.stringify({ v: 1, type: 'charge_succeeded', key: 'k', fingerprint: F })}\n`,
      'not a ledger fact (charge: ',
    ],
    ['a blank line', '\n', 'not JSON'],
  ])('refuses to start on %s, naming the line', (_name, bad, reason) => {
    const { open, path } = setUp()
    const journal = open()
    journal.append(charge)
    journal.close()
    appendFileSync(path, bad)
    appendFileSync(path, `${JSON.stringify({ v: 1, ...declined })}\n`)

    expect(() => open()).toThrow(LedgerFileError)
    expect(() => open()).toThrow(`cannot open the ledger file ${path}: line 2: ${reason}`)
  })

  it.each(['{', '{"v', '{"v":', '\0\0\0\0\0\0\0\0'])(
    'cuts a torn last line of %j (a write stopped in its first bytes, a zero-filled tail)',
    (tail) => {
      const { open, replayed, path } = setUp()
      const journal = open()
      journal.append(charge)
      journal.close()
      appendFileSync(path, tail)
      const reopened = open()
      reopened.replay(() => undefined)
      reopened.append(declined)
      reopened.close()
      expect(replayed()).toStrictEqual([charge, declined])
    },
  )

  it.each([
    ['two lines of something else', 'precious line 1\nprecious line 2 without its newline'],
    ['one line of something else', 'precious, without a newline'],
    ['a ledger followed by something else', `${JSON.stringify({ v: 1, ...charge })}\nnot a ledger`],
  ])('refuses a file that is not a ledger (%s) and leaves it as it was', (_name, content) => {
    const { open, path } = setUp()
    open().close()
    writeFileSync(path, content)
    expect(() => open()).toThrow(LedgerFileError)
    expect(readFileSync(path, 'utf8')).toBe(content)
  })

  it('refuses to start on a fact the ledger contradicts, naming the line', () => {
    const { open, path } = setUp()
    writeFileSync(path.replace('nested/folders/', ''), `${JSON.stringify({ v: 1, ...refund })}\n`)
    const opened = open(path.replace('nested/folders/', ''))
    const ledger = new Ledger({ flakyFailures: 2 })

    expect(() => opened.replay((fact) => ledger.apply(fact))).toThrow(
      `ledger file ${path.replace('nested/folders/', '')} line 1: refund re_1 is for unknown charge ch_1`,
    )
  })

  it('refuses a write once closed', () => {
    const { open } = setUp()
    const journal = open()
    journal.close()
    expect(() => journal.append(charge)).toThrow(LedgerFileError)
  })
})
