import type { JetStreamManager } from '@nats-io/jetstream'
import { createCachedCheck } from '../http/cached-check.ts'
import type { Readiness } from '../http/observability-routes.ts'
import { withDeadline } from '../resilience/deadline.ts'
import type { NatsHandle } from './connect.ts'

export interface ReadinessOptions {
  nats: NatsHandle
  jsm: JetStreamManager
  streams: readonly string[]
  /** Answer from cache for this long, so probes don't load JetStream (concurrent ones share one). */
  cacheMs?: number
  timeoutMs?: number
}

/**
 * Ready = connected, not shutting down, and every stream answers `info` with
 * a leader (a replicated stream without one takes no write): the saga's
 * streams, and each KV bucket's stream the service opened (`watch`), so a
 * deleted or leaderless bucket turns the service unready rather than failing
 * every message behind a 200.
 * Call `markStopping()` first thing on SIGTERM: readiness turns 503 at once.
 */
export function createNatsReadiness({
  nats,
  jsm,
  streams,
  cacheMs = 1_000,
  timeoutMs = 1_000,
}: ReadinessOptions) {
  let stopping = false
  const watched = new Set(streams)
  const cached = createCachedCheck<Readiness>(cacheMs)

  async function probe(): Promise<Readiness> {
    try {
      const infos = await withDeadline(
        Promise.all(
          [...watched].map((s) =>
            jsm.streams.info(s).catch((error: unknown) => {
              // Named, so an operator sees which of the service's streams is missing.
              throw new Error(`${s}: ${error instanceof Error ? error.message : String(error)}`)
            }),
          ),
        ),
        timeoutMs,
        () => new Error(`streams did not answer within ${timeoutMs} ms`),
      )
      // A replicated stream whose cluster lost its majority has no leader and
      // takes no write, yet a surviving replica still answers `info`.
      const leaderless = infos.filter((info) => info.cluster !== undefined && !info.cluster.leader)
      if (leaderless.length > 0)
        return {
          ok: false,
          reason: `no stream leader: ${leaderless.map((info) => info.config.name).join(', ')}`,
        }
      return { ok: true }
    } catch (error) {
      return {
        ok: false,
        reason: `streams unavailable: ${error instanceof Error ? error.message : String(error)}`,
      }
    }
  }

  return {
    /** Checks this stream too from now on (a KV bucket's `KV_<name>` once the service opened it). */
    watch: (stream: string): void => {
      watched.add(stream)
    },
    markStopping: (): void => {
      stopping = true
    },
    check: async (): Promise<Readiness> => {
      if (stopping) return { ok: false, reason: 'shutting down' }
      if (!nats.isConnected()) return { ok: false, reason: 'not connected to NATS' }
      return await cached(probe)
    },
  }
}
