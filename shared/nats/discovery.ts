/*
 * Discovery: every NATS worker answers the NATS services protocol (ADR-32:
 * `$SRV.PING`, `$SRV.INFO`, `$SRV.STATS`, also per name and per instance id)
 * through @nats-io/services, so `nats micro ls` lists the running instances
 * with their name, version and endpoints. One endpoint per worker,
 * `status` on `saga.status.<service>` (queue group `q`), answers its
 * readiness and the durable consumers it runs; STATS adds the consumers'
 * messages in flight. Requests are answered on the requester's inbox, and
 * only there (inbox-replies.ts; the identities may publish to admin's
 * inboxes, shared/security/access.ts).
 */
import type { NatsConnection } from '@nats-io/nats-core'
import { Svcm, type Service } from '@nats-io/services'
import { answeringInboxesOnly } from './inbox-replies.ts'
import type { Readiness } from '../http/observability-routes.ts'
import type { Logger } from '../observability/log.ts'

import { statusSubjectOf } from './discovery-subjects.ts'

/** What the status endpoint answers. */
export interface ServiceStatus {
  service: string
  version: string
  ready: boolean
  reason?: string
  consumers: string[]
}

export interface DiscoveryOptions {
  nc: NatsConnection
  /** The service's name (`nats micro ls` shows it): letters, digits, `-` and `_`. */
  name: string
  /** Semantic version (package.json). */
  version: string
  description: string
  /** The durable consumers it runs (they may start after discovery). */
  consumers: () => readonly string[]
  readiness: () => Promise<Readiness>
  logger: Logger
}

export interface Discovery {
  /** The instance id the service answers with. */
  id: string
  stop(): Promise<void>
}

const encoder = new TextEncoder()

export async function startDiscovery({
  nc,
  name,
  version,
  description,
  consumers,
  readiness,
  logger,
}: DiscoveryOptions): Promise<Discovery> {
  const answering = answeringInboxesOnly(nc, (subject, reply) =>
    logger.warn({ subject, reply }, 'request with a reply subject that is not an inbox; not answered'),
  )
  const service: Service = await new Svcm(answering).add({
    name,
    version,
    description,
    metadata: { project: 'order-saga' },
    statsHandler: () => Promise.resolve({ consumers: [...consumers()] }),
  })
  service.addEndpoint('status', {
    subject: statusSubjectOf(name),
    metadata: { answers: 'readiness and consumers (JSON)' },
    handler: (error, msg) => {
      if (error !== null) return
      // The library counts time inside this callback only; the answer follows the readiness probe.
      readiness()
        .catch((cause: unknown): Readiness => ({ ok: false, reason: String(cause) }))
        .then((ready) => {
          const status: ServiceStatus = {
            service: name,
            version,
            ready: ready.ok,
            ...(ready.reason === undefined ? {} : { reason: ready.reason }),
            consumers: [...consumers()],
          }
          msg.respond(encoder.encode(JSON.stringify(status)))
        })
        .catch((cause: unknown) => logger.warn({ err: cause }, 'status request not answered'))
    },
  })
  void service.stopped.then((stopped) => {
    if (stopped instanceof Error) logger.warn({ err: stopped }, 'service discovery stopped')
  })
  logger.info({ name, id: service.info().id, subject: statusSubjectOf(name) }, 'discoverable ($SRV)')
  return {
    id: service.info().id,
    stop: async () => {
      await service.stop()
    },
  }
}
