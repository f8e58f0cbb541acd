import { JetStreamApiCodes, JetStreamApiError } from '@nats-io/jetstream'
import type { KV } from '@nats-io/kv'
import * as v from 'valibot'

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
  let json: unknown
  try {
    json = entry.json()
  } catch {
    throw new KvRecordError(`${key} holds a record that is not JSON`)
  }
  const result = v.safeParse(schema, json)
  if (!result.success) {
    throw new KvRecordError(`${key} holds an invalid record: ${result.issues[0]?.message ?? ''}`)
  }
  return { value: result.output, revision: entry.revision }
}
