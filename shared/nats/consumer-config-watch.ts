/*
 * Keeps a saga consumer's subject filters as this release provisions them.
 * Another process may update the durable consumer it shares: a worker of the
 * previous release, starting during a rolling upgrade, opens the
 * `order-status` consumer to every subject of ORDERS by an update, and
 * nats-server 2.15.1 hands a pull consumer updated from filters to none its
 * new messages 1-2 s late (`bench/probes/filter-update-latency.ts`; one
 * created without filters, or updated to `>`, gets them in milliseconds), so
 * `GET /orders/{id}` right after the 202 answered 404 and a cancellation
 * sent then was refused. Each process of this release reads
 * its consumers' configuration every {@link CONSUMER_CONFIG_CHECK_MS} and
 * puts back filters that differ, unless a newer release wrote them (the
 * `order_saga.release` metadata the provision step and the workers set):
 * neither a worker of this release starting nor this check undoes an
 * upgrade to a later release; only this release's provision step does. Two
 * builds that report the same version with different filters would undo
 * each other's: a release that changes filters changes its version.
 */
import type { ConsumerConfig, JetStreamManager } from '@nats-io/jetstream'
import type { Logger } from '../observability/log.ts'
import { filtersOf } from './topology.ts'

/** How often each consumer's configuration is read back. */
export const CONSUMER_CONFIG_CHECK_MS = 2_000

/** The consumer metadata key naming the release that provisioned it. */
export const RELEASE_METADATA_KEY = 'order_saga.release'

export interface ConsumerConfigWatch {
  /** One check now (the timer's work); resolves to whether it restored the filters. */
  check(): Promise<boolean>
  /** No more checks; resolves once a check under way has finished. */
  stop(): Promise<void>
}

export function watchConsumerConfig({
  jsm,
  stream,
  durable,
  filters,
  release,
  restore,
  logger,
  intervalMs = CONSUMER_CONFIG_CHECK_MS,
}: {
  jsm: JetStreamManager
  stream: string
  durable: string
  /** The filters this release gives it. */
  filters: readonly string[]
  /** This release's version (package.json). */
  release: string
  /** Provisions the consumer again as this release does. */
  restore: () => Promise<unknown>
  logger: Logger
  intervalMs?: number
}): ConsumerConfigWatch {
  let running: Promise<boolean> | undefined
  async function check(): Promise<boolean> {
    const info = await jsm.consumers.info(stream, durable)
    const found = filtersOf(info.config)
    if (sameSet(found, filters) || writtenByNewer(info.config, release)) return false
    logger.warn(
      { consumer: durable, stream, found: found.length === 0 ? 'every subject' : found, expected: filters },
      'consumer filters were changed by another process (a worker of an earlier release?); restoring them',
    )
    // `restore` looks at the metadata again right before it writes.
    await restore()
    return true
  }
  const timer = setInterval(() => {
    running ??= check()
      .catch((error: unknown) => {
        logger.debug({ err: error, consumer: durable }, 'consumer configuration check failed')
        return false
      })
      .finally(() => (running = undefined))
  }, intervalMs)
  timer.unref?.()
  return {
    check,
    stop: async () => {
      clearInterval(timer)
      await running
    },
  }
}

/** Whether a later release than `release` configured this consumer (its metadata says so). */
export function writtenByNewer(config: Partial<ConsumerConfig>, release: string): boolean {
  const writtenBy = config.metadata?.[RELEASE_METADATA_KEY]
  return writtenBy !== undefined && compareVersions(writtenBy, release) > 0
}

function sameSet(a: readonly string[], b: readonly string[]): boolean {
  const bs = new Set(b)
  return new Set(a).size === bs.size && a.every((s) => bs.has(s))
}

/** Compares `x.y.z` versions numerically (a pre-release suffix is ignored); negative when a < b. */
export function compareVersions(a: string, b: string): number {
  const parts = (v: string) =>
    v
      .split('-')[0]
      ?.split('.')
      .map((n) => Number.parseInt(n, 10) || 0) ?? []
  const [pa, pb] = [parts(a), parts(b)]
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const d = (pa[i] ?? 0) - (pb[i] ?? 0)
    if (d !== 0) return d
  }
  return 0
}
