/*
 * Record seals: every record of a money (or analytics) bucket carries an HMAC of its bucket,
 * key and bytes, made with a key only that bucket's services hold
 * (RECORD_KEYS), and a read refuses a record without a valid one.
 *
 * Why: nats-server delivers a JetStream answer (a direct get, a pull, an API
 * reply) to whatever reply subject the requester names, without checking it
 * against the requester's permissions, and a KV bucket stores whatever lands
 * on `$KV.<bucket>.<key>`. An identity that may write one stream and read it
 * back (the console keeps the order index) could so have a body of its
 * choosing stored as a stock record, and any identity could blank or corrupt
 * one with an API answer. A sealed bucket's readers refuse all of these: no
 * such answer carries a seal, and no identity without the bucket's key can
 * make one. See docs/security.md ("Record seals").
 */
import type { KV, KvEntry } from '@nats-io/kv'
import { headers as natsHeaders, type MsgHdrs } from '@nats-io/nats-core'
import { BUCKETS } from '../../schemas/subjects.ts'
import { ConfigError } from '../config/load-config.ts'
import { KvRecordError } from '../nats/kv-json.ts'
import { nodeCrypto } from '../runtime/node-crypto.ts'
import { fromBase64Url, toBase64Url } from './base64url.ts'

/** The header a sealed record carries its seal in. */
export const RECORD_SEAL_HEADER = 'Saga-Record-Seal'

/**
 * Where the provision step keeps, per sealed bucket, the last stream sequence
 * written before seals (stream metadata: only the admin may change it).
 * Records at or below it are from before and are read unsealed; "0" on a
 * bucket made sealed.
 */
export const SEAL_FLOOR_METADATA = 'order-saga.record-seal-floor'

/**
 * The buckets whose records are sealed: those money decisions are read from,
 * and the analytics worker's (the figures finance reads).
 */
export const SEALED_BUCKETS: readonly string[] = [
  BUCKETS.orderStatus,
  BUCKETS.idempotency,
  BUCKETS.stock,
  BUCKETS.reservations,
  BUCKETS.decisions,
  BUCKETS.reconciliation,
  BUCKETS.analyticsOrders,
  BUCKETS.analyticsWindows,
]

/** Bucket -> its record key. */
export type RecordKeys = ReadonlyMap<string, Uint8Array>

const MIN_KEY_BYTES = 32
const SEAL_BYTES = 16
const encoder = new TextEncoder()

/** One bucket's key, derived from a deployment's master secret (deployment-secrets.ts). */
export async function deriveRecordKey(master: string, bucket: string): Promise<Uint8Array> {
  return await hmac(encoder.encode(master), encoder.encode(`order-saga record seal key\0${bucket}`))
}

/** RECORD_KEYS text for `buckets`: `<bucket>:<base64url key>`, comma separated. */
export async function recordKeysText(master: string, buckets: readonly string[]): Promise<string> {
  const entries = await Promise.all(
    buckets.map(async (b) => `${b}:${toBase64Url(await deriveRecordKey(master, b))}`),
  )
  return entries.join(',')
}

/**
 * Parses RECORD_KEYS: `<bucket>:<base64url key of at least 32 bytes>` entries,
 * comma or newline separated. Problems name the bucket, never the key.
 */
export function parseRecordKeys(text: string): RecordKeys {
  const keys = new Map<string, Uint8Array>()
  const problems: string[] = []
  for (const [index, raw] of text.split(/[,\r\n]+/).entries()) {
    const entry = raw.trim()
    if (entry === '') continue
    const colon = entry.indexOf(':')
    const bucket = colon < 0 ? '' : entry.slice(0, colon)
    if (!SEALED_BUCKETS.includes(bucket)) {
      problems.push(
        `RECORD_KEYS: entry ${index + 1} must be <bucket>:<key> with a bucket of ${SEALED_BUCKETS.join(', ')}`,
      )
      continue
    }
    let key: Uint8Array
    try {
      key = fromBase64Url(entry.slice(colon + 1))
    } catch {
      problems.push(`RECORD_KEYS: the key of ${bucket} is not base64url`)
      continue
    }
    if (key.length < MIN_KEY_BYTES)
      problems.push(`RECORD_KEYS: the key of ${bucket} is under ${MIN_KEY_BYTES} bytes`)
    else if (keys.has(bucket)) problems.push(`RECORD_KEYS: ${bucket} is given twice`)
    else keys.set(bucket, key)
  }
  if (problems.length > 0) throw new ConfigError(problems)
  return keys
}

/**
 * The seal of one record: HMAC-SHA256 of bucket, key and bytes (and the
 * operation of a delete marker), truncated to 128 bits, base64url.
 */
export async function sealOf(
  recordKey: Uint8Array,
  bucket: string,
  key: string,
  data: Uint8Array,
  operation: 'PUT' | 'DEL' | 'PURGE' = 'PUT',
): Promise<string> {
  const head = encoder.encode(
    operation === 'PUT' ? `v1\0${bucket}\0${key}\0` : `v1\0${bucket}\0${key}\0${operation}\0`,
  )
  const input = new Uint8Array(head.length + data.length)
  input.set(head)
  input.set(data, head.length)
  return toBase64Url((await hmac(recordKey, input)).subarray(0, SEAL_BYTES))
}

/** What `sealBucket` needs besides the bucket. */
export interface SealOptions {
  bucket: string
  key: Uint8Array
  /** Records at or below this stream sequence are from before seals (SEAL_FLOOR_METADATA). */
  floor: number
  /**
   * RECORD_SEALS=tolerate: a record with no seal is read as it is (one with a
   * wrong seal is still refused). For the rolling upgrade from a release
   * before seals, whose services write unsealed records beside this one's.
   */
  tolerateUnsealed?: boolean
}

/** The internals of nats.js's KV (3.4) that writing a sealed record goes through. */
interface KvInternals {
  js: { publish(subject: string, data: Uint8Array, options: object): Promise<{ seq: number }> }
  codec: { value: { encode(data: Uint8Array): Uint8Array } }
  encodeKey(key: string): string
  validateKey(key: string): void
  subjectForKey(key: string, edit?: boolean): string
  _put(key: string, data: Uint8Array, options?: PutOptions, markerTTL?: string): Promise<number>
  _doDeleteOrPurge(
    key: string,
    op: 'DEL' | 'PURGE',
    options?: { previousSeq?: number; ttl?: string },
  ): Promise<void>
}
interface PutOptions {
  previousSeq?: number
  timeout?: number
}

/**
 * Seals every write of `kv` and checks every read: `put`, `create` and
 * `update` send the record with its seal; `get` throws KvRecordError for a
 * record (or a delete marker) without a valid one, above the floor. Returns
 * the same object.
 */
export function sealBucket(kv: KV, { bucket, key, floor, tolerateUnsealed = false }: SealOptions): KV {
  const inner = kv as unknown as KvInternals
  if (
    typeof inner._put !== 'function' ||
    typeof inner._doDeleteOrPurge !== 'function' ||
    typeof inner.subjectForKey !== 'function'
  ) {
    throw new Error('sealBucket: needs @nats-io/kv 3.4')
  }
  // Read from the stream leader: a direct get's answer carries headers no
  // record has (Nats-Stream, ...), which a read refuses (a copy's mark).
  if ((kv as unknown as { direct?: boolean }).direct === true) {
    throw new Error(`sealBucket: ${bucket} is bound with direct gets; bind it with allow_direct: false`)
  }
  /** Publishes one sealed message on the key's subject, as nats.js would send it plus its seal. */
  const send = async (
    k: string,
    bytes: Uint8Array,
    operation: 'PUT' | 'DEL' | 'PURGE',
    previousSeq: number | undefined,
    extra: Record<string, string>,
    timeout?: number,
  ) => {
    const encoded = inner.encodeKey(k)
    inner.validateKey(encoded)
    const h = natsHeaders()
    for (const [name, value] of Object.entries(extra)) h.set(name, value)
    if (previousSeq !== undefined) h.set('Nats-Expected-Last-Subject-Sequence', `${previousSeq}`)
    h.set(RECORD_SEAL_HEADER, await sealOf(key, bucket, k, bytes, operation))
    return await inner.js.publish(inner.subjectForKey(encoded, true), bytes, {
      headers: h,
      ...(timeout === undefined ? {} : { timeout }),
    })
  }
  inner._put = async (k, data, options = {}, markerTTL) => {
    const ttl: Record<string, string> = markerTTL === undefined ? {} : { 'Nats-TTL': markerTTL }
    const ack = await send(
      k,
      inner.codec.value.encode(data),
      'PUT',
      options.previousSeq,
      ttl,
      options.timeout,
    )
    return ack.seq
  }
  // A delete marker is sealed too (the reconciler deletes a settled entry).
  inner._doDeleteOrPurge = async (k, op, options) => {
    const extra: Record<string, string> = { 'KV-Operation': op }
    if (op === 'PURGE') {
      extra['Nats-Rollup'] = 'sub'
      if (typeof options?.ttl === 'string' && options.ttl !== '') extra['Nats-TTL'] = options.ttl
    }
    // nats.js sends no expectation for a previousSeq of 0 (or none).
    await send(k, new Uint8Array(), op, options?.previousSeq || undefined, extra)
  }
  const get = kv.get.bind(kv)
  ;(kv as Unchecked)[UNCHECKED_GET] = get
  kv.get = async (k, options) => {
    const entry = await get(k, options)
    if (entry === null || entry.revision <= floor) return entry
    const header = headerOf(entry)
    // A direct get's answer carries these: a sealed record copied there (the
    // console may write its index with any header and direct-get it back)
    // onto its own key would otherwise pass, an earlier revision put back.
    if (ANSWER_HEADERS.some((name) => header?.has(name) === true))
      throw new KvRecordError(`${k} in ${bucket} holds a copy a JetStream answer stored, not a record`)
    const seal = header?.get(RECORD_SEAL_HEADER) ?? ''
    if (seal === '' && tolerateUnsealed) return entry
    const operation = entry.operation
    const data = operation === 'PUT' ? entry.value : new Uint8Array()
    if (seal !== '' && timingSafeEqual(seal, await sealOf(key, bucket, k, data, operation))) return entry
    throw new KvRecordError(
      `${k} in ${bucket} holds a record its writers did not seal (or this service's RECORD_KEYS key for ${bucket} is not theirs)`,
    )
  }
  return kv
}

const UNCHECKED_GET = Symbol('unchecked get')
type Unchecked = KV & { [UNCHECKED_GET]?: KV['get'] }

/**
 * The record as stored, seal or not: only to replace a record that a checked
 * read refused (an admin's repair), at the revision it has.
 */
export function getUnchecked(kv: KV, key: string): Promise<KvEntry | null> {
  return ((kv as Unchecked)[UNCHECKED_GET] ?? kv.get.bind(kv))(key)
}

/** Headers nats-server adds to a direct get's answer; no writer of a record sets them. */
const ANSWER_HEADERS = [
  'Nats-Stream',
  'Nats-Sequence',
  'Nats-Subject',
  'Nats-Time-Stamp',
  'Nats-Last-Sequence',
  'Nats-Num-Pending',
]

/** The entry's stored headers: nats.js keeps the stored message as `sm`. */
function headerOf(entry: KvEntry): MsgHdrs | undefined {
  return (entry as unknown as { sm?: { header?: MsgHdrs } }).sm?.header
}

function timingSafeEqual(a: string, b: string): boolean {
  if (a.length !== b.length) return false
  let diff = 0
  for (let i = 0; i < a.length; i++) diff |= a.charCodeAt(i) ^ b.charCodeAt(i)
  return diff === 0
}

/** The seal floor a bucket's stream metadata holds (0 when none). */
export function sealFloorOf(metadata: Record<string, string> | undefined): number {
  const text = metadata?.[SEAL_FLOOR_METADATA]
  const floor = text === undefined ? 0 : Number(text)
  return Number.isSafeInteger(floor) && floor > 0 ? floor : 0
}

const subtleKeys = new WeakMap<Uint8Array, Promise<CryptoKey>>()

/** HMAC-SHA256: node:crypto where the runtime has it (Bun, Node, Deno), else WebCrypto (the Worker). */
async function hmac(key: Uint8Array, data: Uint8Array): Promise<Uint8Array> {
  if (nodeCrypto?.createHmac !== undefined) {
    return new Uint8Array(nodeCrypto.createHmac('sha256', key).update(data).digest())
  }
  let imported = subtleKeys.get(key)
  if (imported === undefined) {
    imported = crypto.subtle.importKey('raw', new Uint8Array(key), { name: 'HMAC', hash: 'SHA-256' }, false, [
      'sign',
    ])
    subtleKeys.set(key, imported)
  }
  return new Uint8Array(await crypto.subtle.sign('HMAC', await imported, new Uint8Array(data)))
}
