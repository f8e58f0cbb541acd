/*
 * Read-modify-write of JSON records in one KV bucket by one process, cheaper
 * than `updateJson` alone: writes to the same key run one at a time (no
 * conflicts between this process's own deliveries), and each starts from the
 * record this writer wrote last (no read), kept for the newest `cacheSize`
 * keys. Other processes may write the same keys: every write is still a
 * compare-and-set at a revision, and a stale guess costs one conflict and a
 * read, so nothing is lost.
 */
import type { KV } from '@nats-io/kv'
import type * as v from 'valibot'
import { updateJson, type Versioned } from './kv-json.ts'

export interface RecordWriter<T> {
  /**
   * `updateJson` for `key`, after this writer's earlier updates of `key`.
   * `assumeAbsent`: a key this writer does not know is taken to be new (the
   * first write is a create, no read).
   */
  update<R>(
    key: string,
    change: (current: T | null) => { value: T; result: R } | { value?: undefined; result: R },
    options?: { assumeAbsent?: boolean; maxAttempts?: number },
  ): Promise<R>
}

export function createRecordWriter<T>(
  kv: KV,
  schema: v.GenericSchema<unknown, T>,
  { cacheSize = 10_000 }: { cacheSize?: number } = {},
): RecordWriter<T> {
  const lastWritten = new Map<string, Versioned<T>>()
  const queues = new Map<string, Promise<unknown>>()

  const remember = (key: string, written: Versioned<T>): void => {
    lastWritten.delete(key)
    lastWritten.set(key, written)
    if (lastWritten.size > cacheSize) {
      const oldest = lastWritten.keys().next()
      if (oldest.done !== true) lastWritten.delete(oldest.value)
    }
  }

  /** Runs `work` after every earlier call for `key` has settled. */
  function serially<R>(key: string, work: () => Promise<R>): Promise<R> {
    const run = (queues.get(key) ?? Promise.resolve()).then(work)
    const tail = run.catch(() => undefined)
    queues.set(key, tail)
    void tail.then(() => {
      if (queues.get(key) === tail) queues.delete(key)
    })
    return run
  }

  return {
    update: (key, change, { assumeAbsent = false, maxAttempts } = {}) =>
      serially(key, () => {
        const assumed = lastWritten.get(key) ?? (assumeAbsent ? null : undefined)
        return updateJson(kv, key, schema, change, {
          ...(maxAttempts === undefined ? {} : { maxAttempts }),
          ...(assumed === undefined ? {} : { assumed }),
          onWritten: (written) => remember(key, written),
        })
      }),
  }
}
