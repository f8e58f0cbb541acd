// Poison published straight onto the consumed subjects: JSON that does not
// parse, and JSON that breaks the subject's schema. The stream's ack gives the
// sequence the dead letters must point back to.
import type { JetStreamClient } from '@nats-io/jetstream'
import { SUBJECTS } from '../../schemas/subjects.ts'

export type PoisonKind = 'malformed_json' | 'schema_violation'

export interface PoisonMessage {
  seq: number
  subject: string
  kind: PoisonKind
  publishedAt: number
}

export const POISON_SUBJECTS = [
  SUBJECTS.orderCreated,
  SUBJECTS.inventoryReserved,
  SUBJECTS.paymentCompleted,
  SUBJECTS.paymentFailed,
] as const

/** A payload of the subject's shape with one rule broken, for an order no one placed. */
function schemaViolation(subject: string): Record<string, unknown> {
  const base = { version: 1, orderId: crypto.randomUUID(), occurredAt: new Date().toISOString() }
  switch (subject) {
    case SUBJECTS.orderCreated:
      return { ...base, customerId: 'poison', items: [], sealedPaymentToken: 'sealed.v1.poison' }
    case SUBJECTS.inventoryReserved:
      return {
        ...base,
        items: [{ sku: 'CHAOS-A', quantity: 1, unitPriceCents: 1 }],
        currency: 'USD',
        sealedPaymentToken: 'sealed.v1.poison',
      }
    case SUBJECTS.paymentCompleted:
      return { ...base, chargeId: '', amountCents: 100, currency: 'USD' }
    default:
      return { ...base, reason: 'cosmic_rays' }
  }
}

export function poisonPayload(subject: string, kind: PoisonKind): string {
  return kind === 'malformed_json'
    ? `{"poison": "${subject}", "orderId": `
    : JSON.stringify(schemaViolation(subject))
}

/** One malformed and one schema-violating message on every consumed subject. */
export async function publishPoisonRound(js: JetStreamClient): Promise<PoisonMessage[]> {
  const published: PoisonMessage[] = []
  for (const subject of POISON_SUBJECTS) {
    for (const kind of ['malformed_json', 'schema_violation'] as const) {
      const ack = await js.publish(subject, poisonPayload(subject, kind), {
        msgID: `poison:${crypto.randomUUID()}`,
        timeout: 5_000,
      })
      published.push({ seq: ack.seq, subject, kind, publishedAt: Date.now() })
    }
  }
  return published
}
