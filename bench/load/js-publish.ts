// The raw JetStream ceiling of the server: async publishes with message ids,
// `inFlight` outstanding, to a file stream configured like ORDERS.
//   bun bench/load/js-publish.ts '{"natsUrl":"nats://...","natsSeed":"SU...","subject":"bench.raw.x","durationMs":3000,"inFlight":256,"payloadBytes":300}'
import { jetstream } from '@nats-io/jetstream'
import { connect } from '@nats-io/transport-node'
import { natsAuthOptions } from '../../shared/security/nats-identity.ts'

export interface JsPublishConfig {
  natsUrl: string
  /** The NKEY seed to connect with (the bench passes the admin's). */
  natsSeed?: string
  subject: string
  durationMs: number
  inFlight: number
  payloadBytes: number
}

export async function publishFlat(
  config: JsPublishConfig,
): Promise<{ published: number; perSec: number; errors: number }> {
  const nc = await connect({
    servers: config.natsUrl,
    name: 'bench-js-publish',
    timeout: 5_000,
    ...natsAuthOptions(config.natsSeed),
  })
  const js = jetstream(nc, { timeout: 5_000 })
  const payload = new TextEncoder().encode('x'.repeat(config.payloadBytes))
  const prefix = Math.random().toString(36).slice(2, 8)
  let next = 0
  let published = 0
  let errors = 0
  const started = performance.now()
  const end = started + config.durationMs
  const lane = async (): Promise<void> => {
    while (performance.now() < end) {
      try {
        await js.publish(config.subject, payload, { msgID: `${prefix}-${next++}` })
        published++
      } catch {
        errors++
      }
    }
  }
  await Promise.all(Array.from({ length: config.inFlight }, lane))
  const seconds = (performance.now() - started) / 1000
  await nc.close()
  return { published, perSec: published / seconds, errors }
}

const arg = process.argv[2]
if (arg !== undefined) {
  publishFlat(JSON.parse(arg) as JsPublishConfig).then(
    (result) => process.stdout.write(`${JSON.stringify(result)}\n`),
    (error: unknown) => {
      process.stderr.write(`js-publish failed: ${String(error)}\n`)
      process.exit(1)
    },
  )
}
