/**
 * The ledger on disk (GATEWAY_LEDGER_FILE), so that a gateway killed with -9
 * still knows every charge, decline and refund it answered.
 *
 * Format: UTF-8 JSON lines, append-only, one settled fact per line (version 1):
 *
 *   {"v":1,"type":"charge_succeeded","key":K,"fingerprint":F,
 *    "charge":{"id","status":"succeeded","amountCents","currency","orderId","created"}}
 *   {"v":1,"type":"charge_declined","key":K,"fingerprint":F,"orderId":O,"code":"card_declined"|"invalid_token"}
 *   {"v":1,"type":"refund_succeeded","key":K,"fingerprint":F,
 *    "refund":{"id","object":"refund","chargeId","amountCents","currency","orderId","status":"succeeded","created"}}
 *
 * K is the request's Idempotency-Key, F the SHA-256 (hex) of its body
 * (request-fingerprint.ts): the file never holds a card token. Each line is
 * written with one write and fsync'ed (on a descriptor opened once) before
 * the request is answered. Not written: attempts still processing, attempts
 * released with a 503, and `tok_flaky` counts.
 *
 * On start every line is replayed, oldest first. A last line without its
 * newline was cut short by a kill (and never answered): it is dropped with a
 * warning and cut from the file, so the next line starts clean. Any other
 * line that is not a fact, or that contradicts the lines before it, stops
 * the start with a LedgerFileError naming the line. One gateway per file.
 */
import {
  closeSync,
  existsSync,
  fstatSync,
  fsyncSync,
  ftruncateSync,
  mkdirSync,
  openSync,
  readFileSync,
  writeSync,
} from 'node:fs'
import { dirname } from 'node:path'
import * as v from 'valibot'
import type { Logger } from '../../shared/observability/logger.ts'
import type { LedgerFact } from './ledger.ts'

export interface Journal {
  /** Feeds every stored fact to `apply`, oldest first; throws LedgerFileError naming a line that is refused. */
  replay(apply: (fact: LedgerFact) => void): void
  /** Returns once `fact` is on disk; throws LedgerFileError when it cannot be written. */
  append(fact: LedgerFact): void
  close(): void
}

/** No file (GATEWAY_LEDGER_FILE unset): the ledger lives in memory only. */
export const memoryJournal: Journal = {
  replay: () => undefined,
  append: () => undefined,
  close: () => undefined,
}

export class LedgerFileError extends Error {
  override readonly name = 'LedgerFileError'
}

const text = v.pipe(v.string(), v.minLength(1))
const cents = v.pipe(v.number(), v.safeInteger(), v.minValue(1))
const head = { v: v.literal(1), key: text, fingerprint: v.pipe(v.string(), v.regex(/^[0-9a-f]{64}$/)) }
const factSchema = v.variant('type', [
  v.strictObject({
    ...head,
    type: v.literal('charge_succeeded'),
    charge: v.strictObject({
      id: text,
      status: v.literal('succeeded'),
      amountCents: cents,
      currency: text,
      orderId: text,
      created: text,
    }),
  }),
  v.strictObject({
    ...head,
    type: v.literal('charge_declined'),
    orderId: text,
    code: v.picklist(['card_declined', 'invalid_token']),
  }),
  v.strictObject({
    ...head,
    type: v.literal('refund_succeeded'),
    refund: v.strictObject({
      id: text,
      object: v.literal('refund'),
      chargeId: text,
      amountCents: cents,
      currency: text,
      orderId: text,
      status: v.literal('succeeded'),
      created: text,
    }),
  }),
])

function parseFact(line: string): LedgerFact {
  let json: unknown
  try {
    json = JSON.parse(line)
  } catch {
    throw new Error('not JSON')
  }
  const result = v.safeParse(factSchema, json)
  if (!result.success) {
    const issue = result.issues[0]
    throw new Error(`not a ledger fact (${v.getDotPath(issue) ?? 'line'}: ${issue.message})`)
  }
  const { v: _version, ...fact } = result.output
  return fact
}

/**
 * Opens (creating it and its folders) the journal at `path` and cuts a torn
 * last line off. Every whole line is read as a ledger fact first, and the
 * torn line must be the start of one: a file that is not a ledger (a wrong
 * path) is refused untouched.
 */
export function openLedgerFile(path: string, { logger }: { logger: Pick<Logger, 'warn'> }): Journal {
  let fd: number
  let facts: LedgerFact[]
  try {
    mkdirSync(dirname(path), { recursive: true })
    const created = !existsSync(path)
    fd = openSync(path, 'a', 0o600)
    if (created) syncFolder(dirname(path))
    const content = readFileSync(path, 'utf8')
    const end = content.lastIndexOf('\n') + 1
    const lines = content.slice(0, end).split('\n').slice(0, -1)
    facts = lines.map((line, index) => {
      try {
        return parseFact(line)
      } catch (error) {
        throw new Error(`line ${index + 1}: ${reasonOf(error)}`, { cause: error })
      }
    })
    const torn = content.slice(end)
    if (torn !== '') {
      // What `append` writes starts so (a write stopped within those bytes, or
      // a tail a power loss left zero-filled, too); anything else is not a
      // write this service stopped in.
      const start = '{"v":'
      if (!torn.startsWith(start) && !start.startsWith(torn) && !/^\0+$/.test(torn))
        throw new Error(
          `line ${lines.length + 1} is not a ledger fact nor the start of one: is this the ledger file?`,
        )
      logger.warn(
        { path, line: lines.length + 1, bytes: byteLength(torn) },
        'ledger file: dropped a torn last line (the process was killed mid-write)',
      )
      ftruncateSync(fd, byteLength(content.slice(0, end)))
      fsyncSync(fd)
    }
  } catch (error) {
    const reason = reasonOf(error)
    throw new LedgerFileError(`GATEWAY_LEDGER_FILE: cannot open the ledger file ${path}: ${reason}`, {
      cause: error,
    })
  }
  let open = true

  return {
    replay(apply) {
      facts.forEach((fact, index) => {
        try {
          apply(fact)
        } catch (error) {
          throw new LedgerFileError(
            `GATEWAY_LEDGER_FILE: ledger file ${path} line ${index + 1}: ${reasonOf(error)}`,
            {
              cause: error,
            },
          )
        }
      })
      facts = []
    },
    append(fact) {
      if (!open) throw new LedgerFileError(`the ledger file ${path} is closed`)
      const bytes = new TextEncoder().encode(`${JSON.stringify({ v: 1, ...fact })}\n`)
      let before: number | undefined
      try {
        before = fstatSync(fd).size
        for (let written = 0; written < bytes.length;) written += writeSync(fd, bytes, written)
        fsyncSync(fd)
      } catch (error) {
        // A part of the line left behind would be glued to the next fact: cut
        // back to the last whole line, or write no more.
        try {
          if (before !== undefined) ftruncateSync(fd, before)
        } catch {
          closeSync(fd)
          open = false
        }
        throw new LedgerFileError(`cannot write the ledger file ${path}: ${reasonOf(error)}`, {
          cause: error,
        })
      }
    },
    close() {
      if (open) closeSync(fd)
      open = false
    },
  }
}

const reasonOf = (error: unknown): string => (error instanceof Error ? error.message : String(error))

const byteLength = (s: string): number => new TextEncoder().encode(s).length

/** Makes a new file's name durable too (its folder's entry). */
function syncFolder(folder: string): void {
  const dirFd = openSync(folder, 'r')
  try {
    fsyncSync(dirFd)
  } finally {
    closeSync(dirFd)
  }
}
