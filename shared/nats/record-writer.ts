/*
 * Read-modify-write of JSON records in one KV bucket by one process: every
 * write is a compare-and-set at the revision its change was decided on,
 * retried on conflict, so several processes can update the same key without
 * losing an update. Writes to the same key run one at a time (no
 * conflicts between this process's own deliveries); the updates of a key that
 * queue up while its write is in flight are applied one after another to the
 * record and stored in one write (a group commit: a hot key costs one write
 * per round trip, not one per update); and each write starts from the record
 * this writer wrote last (no read), kept for the newest `cacheSize` keys.
 * Other processes may write the same keys: every write is still a
 * compare-and-set at a revision, and a stale guess costs one conflict and a
 * read, so nothing is lost.
 */
import type { KV } from '@nats-io/kv'
import type * as v from 'valibot'
import { sendAtEndOfTurn } from './end-of-turn.ts'
import { laneYield } from './lane-yield.ts'
import { isRevisionConflict, KvConflictError, readJson, type Versioned } from './kv-json.ts'
import { rememberRecent } from '../runtime/remember-recent.ts'

type Change<T, R> = (current: T | null) => { value: T; result: R } | { value?: undefined; result: R }

export interface UpdateOptions {
  /** A key this writer does not know is taken to be new (the first write is a create, no read). */
  assumeAbsent?: boolean
  /** Compare-and-set attempts before giving up (default 50); a group takes its largest. */
  maxAttempts?: number
}

export interface RecordWriter<T> {
  /**
   * Changes `key`'s record (`null`: none yet): `change` returns the new value,
   * or no value to leave the record as it is; resolves to its `result`, after
   * this writer's earlier updates of `key`. `change` may run more than once
   * (after a conflict); it must depend only on the record it is given.
   */
  update<R>(key: string, change: Change<T, R>, options?: UpdateOptions): Promise<R>
}

interface Pending<T> {
  change: Change<T, unknown>
  assumeAbsent: boolean
  maxAttempts: number
  resolve: (result: unknown) => void
  reject: (error: unknown) => void
}

const encoder = new TextEncoder()
const DEFAULT_MAX_ATTEMPTS = 50

export function createRecordWriter<T>(
  kv: KV,
  schema: v.GenericSchema<unknown, T>,
  { cacheSize = 10_000 }: { cacheSize?: number } = {},
): RecordWriter<T> {
  const lastWritten = new Map<string, Versioned<T>>()
  /** Updates waiting for the key's write in flight to finish: the next group. */
  const waiting = new Map<string, Pending<T>[]>()
  const busy = new Set<string>()

  const remember = (key: string, written: Versioned<T>): void =>
    void rememberRecent(lastWritten, key, written, cacheSize)

  /** Writes the key's groups one after another until none is waiting. */
  async function drain(key: string): Promise<void> {
    busy.add(key)
    try {
      for (let group = waiting.get(key); group !== undefined; group = waiting.get(key)) {
        waiting.delete(key)
        await commit(key, group)
      }
    } finally {
      busy.delete(key)
    }
  }

  /** Applies every change of `group` in order and stores the outcome in one compare-and-set; settles each. */
  async function commit(key: string, group: Pending<T>[]): Promise<void> {
    const maxAttempts = Math.max(...group.map((p) => p.maxAttempts))
    for (let attempt = 1; attempt <= maxAttempts; attempt++) {
      let current: Versioned<T> | null
      const known = lastWritten.get(key)
      const guessed = attempt === 1 && (known !== undefined || group.every((p) => p.assumeAbsent))
      try {
        current = guessed ? (known ?? null) : await readJson(kv, key, schema)
      } catch (error) {
        for (const p of group) p.reject(error)
        return
      }
      let value = current?.value ?? null
      let changed = false
      const outcomes = group.map((p) => {
        try {
          const next = p.change(value)
          if (next.value !== undefined) {
            value = next.value
            changed = true
          }
          return { ok: true as const, result: next.result }
        } catch (error) {
          return { ok: false as const, error }
        }
      })
      const settle = () =>
        group.forEach((p, i) => {
          const outcome = outcomes[i]!
          if (outcome.ok) p.resolve(outcome.result)
          else p.reject(outcome.error)
        })
      if (!changed) {
        if (guessed) continue // decide "leave it" only on what is stored
        settle()
        return
      }
      const data = encoder.encode(JSON.stringify(value))
      try {
        const revision = await sendAtEndOfTurn(() =>
          current === null ? kv.create(key, data) : kv.update(key, data, current.revision),
        )
        remember(key, { value: value as T, revision })
        settle()
        return
      } catch (error) {
        if (!isRevisionConflict(error)) {
          for (const p of group) p.reject(error)
          return
        }
        lastWritten.delete(key)
        // Lost the race: re-read and decide again. A short random pause spreads retries.
        if (attempt > 3) await new Promise((r) => setTimeout(r, Math.random() * Math.min(50, attempt * 5)))
      }
    }
    const error = new KvConflictError(`${key}: gave up after ${maxAttempts} conflicting updates`)
    for (const p of group) p.reject(error)
  }

  const enqueue = <R>(key: string, change: Change<T, R>, assumeAbsent: boolean, maxAttempts: number) =>
    new Promise<R>((resolve, reject) => {
      const pending: Pending<T> = {
        change,
        assumeAbsent,
        maxAttempts,
        resolve: resolve as (result: unknown) => void,
        reject,
      }
      const group = waiting.get(key)
      if (group !== undefined) group.push(pending)
      else waiting.set(key, [pending])
      // Updates made in the same tick join this group.
      if (!busy.has(key) && group === undefined) queueMicrotask(() => void drain(key))
    })

  return {
    update: <R>(
      key: string,
      change: Change<T, R>,
      { assumeAbsent = false, maxAttempts = DEFAULT_MAX_ATTEMPTS }: UpdateOptions = {},
    ): Promise<R> => {
      // Standard work waits here, before it joins a group (never inside one:
      // a group may carry an express update too).
      const wait = laneYield()
      if (wait === undefined) return enqueue(key, change, assumeAbsent, maxAttempts)
      return wait.then(() => enqueue(key, change, assumeAbsent, maxAttempts))
    },
  }
}
