import { JetStreamApiCodes, JetStreamApiError } from '@nats-io/jetstream'
import type { KV } from '@nats-io/kv'
import * as v from 'valibot'
import { sendAtEndOfTurn } from './end-of-turn.ts'

const encoder = new TextEncoder()

export class KvConflictError extends Error {
  override readonly name = 'KvConflictError'
}

export class KvRecordError extends Error {
  override readonly name = 'KvRecordError'
}

/** True when a KV write lost an optimistic-concurrency race. */
export function isRevisionConflict(error: unknown): boolean {
  return (
    error instanceof JetStreamApiError &&
    (error.code === JetStreamApiCodes.StreamWrongLastSequence ||
      error.code === JetStreamApiCodes.StreamWrongLastSequenceUnknown)
  )
}

export interface Versioned<T> {
  value: T
  revision: number
}

/** Reads and validates one JSON record; null when absent or deleted. */
export async function readJson<T>(
  kv: KV,
  key: string,
  schema: v.GenericSchema<unknown, T>,
): Promise<Versioned<T> | null> {
  const entry = await kv.get(key)
  if (entry === null || entry.operation !== 'PUT' || entry.length === 0) return null
  const result = v.safeParse(schema, entry.json())
  if (!result.success) {
    throw new KvRecordError(`${key} holds an invalid record: ${result.issues[0]?.message ?? ''}`)
  }
  return { value: result.output, revision: entry.revision }
}

export interface UpdateOptions<T> {
  maxAttempts?: number
  /**
   * The record as the caller last saw it (`null`: assumed absent). The first
   * attempt decides against it without reading: a write at its revision (a
   * stale guess costs one revision conflict and a read); a decision not to
   * write is only ever taken on a fresh read.
   */
  assumed?: Versioned<T> | null
  /** Told what was written, with its revision (e.g. to keep for the next `assumed`). */
  onWritten?: (written: Versioned<T>) => void
}

/**
 * Read-modify-write at the read revision, retried on conflict: several
 * processes can update the same key without losing an update. `change`
 * returns the new value, or `undefined` to leave the record as it is.
 */
export async function updateJson<T, R = T>(
  kv: KV,
  key: string,
  schema: v.GenericSchema<unknown, T>,
  change: (current: T | null) => { value: T; result: R } | { value?: undefined; result: R },
  { maxAttempts = 50, assumed, onWritten }: UpdateOptions<T> = {},
): Promise<R> {
  for (let attempt = 1; attempt <= maxAttempts; attempt++) {
    const guessed = attempt === 1 && assumed !== undefined
    const current = guessed ? assumed : await readJson(kv, key, schema)
    const next = change(current?.value ?? null)
    if (next.value === undefined) {
      if (guessed) continue // decide "leave it" only on what is stored
      return next.result
    }
    const data = encoder.encode(JSON.stringify(next.value))
    try {
      const revision = await sendAtEndOfTurn(() =>
        current === null ? kv.create(key, data) : kv.update(key, data, current.revision),
      )
      onWritten?.({ value: next.value, revision })
      return next.result
    } catch (error) {
      if (!isRevisionConflict(error)) throw error
      // Lost the race: re-read and decide again. A short random pause spreads retries.
      if (attempt > 3) await new Promise((r) => setTimeout(r, Math.random() * Math.min(50, attempt * 5)))
    }
  }
  throw new KvConflictError(`${key}: gave up after ${maxAttempts} conflicting updates`)
}
