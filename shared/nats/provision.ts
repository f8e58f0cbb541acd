/*
 * The `provision` step, run by the admin identity before the workers start
 * (`npm start` and compose do): every stream, KV bucket and consumer of the
 * saga, created or updated to this version's configuration. Idempotent.
 * Service identities cannot create streams or buckets, so this is the only
 * place they come from.
 */
import { jetstreamManager } from '@nats-io/jetstream'
import type { NatsConnection } from '@nats-io/nats-core'
import { BUCKETS, STREAMS } from '../../schemas/subjects.ts'
import { ADVISORY_STREAM, advisoryStreamConfig } from './dead-letter-capture.ts'
import {
  ensureOrderIndex,
  ORDER_INDEX,
  orderIndexStreamConfig,
  orderRetriesStreamConfig,
} from './order-index.ts'
import { ensureCaptureConsumer, ensureSagaConsumer, SAGA_CONSUMER_NAMES } from './saga-consumers.ts'
import {
  ensureBucket,
  ensureStream,
  ensureStreams,
  refuseShrink,
  sagaStreamChecks,
  shrinkPreflight,
  type TopologyLimits,
} from './topology.ts'

export interface ProvisionReport {
  streams: string[]
  /** What the operator should know (an ORDERS stream from an earlier release). */
  warnings: string[]
  buckets: string[]
  consumers: string[]
}

/** Every stream the provision step makes, but the KV buckets' (`KV_<bucket>`). */
export const PROVISIONED_STREAMS: readonly string[] = [
  STREAMS.orders.name,
  STREAMS.deadLetters.name,
  STREAMS.deadlines.name,
  ADVISORY_STREAM,
  ORDER_INDEX.stream,
  ORDER_INDEX.retriesStream,
]

export async function provisionTopology(
  nc: NatsConnection,
  limits: TopologyLimits,
  {
    timeoutMs = 5_000,
    release,
    raiseSealFloor = false,
  }: { timeoutMs?: number; release?: string; raiseSealFloor?: boolean } = {},
): Promise<ProvisionReport> {
  const jsm = await jetstreamManager(nc, { timeout: timeoutMs })
  // Read before anything changes: a refused run leaves every limit as it was.
  const streams = [
    ...sagaStreamChecks(limits),
    { config: advisoryStreamConfig(limits) },
    { config: orderIndexStreamConfig(limits) },
    { config: orderRetriesStreamConfig(limits) },
  ]
  const shrinks = await shrinkPreflight(jsm, streams, limits)
  if (limits.allowShrink !== true) refuseShrink(shrinks)
  const orders = await ensureStreams(jsm, limits)
  await ensureStream(jsm, advisoryStreamConfig(limits), { allowShrink: limits.allowShrink === true })
  const buckets = Object.values(BUCKETS)
  for (const bucket of buckets) await ensureBucket(nc, bucket, limits, { raiseSealFloor })
  const consumers: string[] = []
  for (const name of SAGA_CONSUMER_NAMES) {
    await ensureSagaConsumer(jsm, name, limits, release)
    const capture = await ensureCaptureConsumer(jsm, name)
    consumers.push(name, capture.name)
  }
  // The operator console's order index (docs/console.md): after the buckets, as it reads order-status.
  consumers.push(...(await ensureOrderIndex(jsm, limits)))
  const warnings = [
    ...(raiseSealFloor
      ? [
          'RECORD_SEAL_FLOOR=now: every record of the sealed buckets written so far is read from now on without ' +
            'its seal being checked (the end of a rolling upgrade; docs/security.md): unset it for later runs',
        ]
      : []),
    ...(orders.allow_msg_schedules === true
      ? [
          `stream ${STREAMS.orders.name} was created by a release that kept order deadlines in it: it still allows ` +
            'message schedules and roll-up headers (nats-server never turns them off), so any identity that publishes ' +
            'an event could schedule events or erase the stream; recreate it once drained (docs/security.md)',
        ]
      : []),
  ]
  return {
    streams: [...PROVISIONED_STREAMS],
    warnings,
    buckets: buckets.map((b) => `KV_${b}`),
    consumers,
  }
}
