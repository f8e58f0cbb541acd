// How hard and how long: the short CI run and the long `npm run chaos`.

export interface ChaosProfile {
  name: 'ci' | 'long'
  ratePerSec: number
  durationMs: number
  /** Faults per scenario (kills, restarts, leader kills, poison rounds). */
  faults: number
  workerDownMs: number
  serverDownMs: number
  nodeDownMs: number
  gatewayOutageMs: number
  /** processor-down: how long the gateway stays killed, longer than the settle budget it runs with. */
  processorDownMs: number
  /** payment-past-deadline: how long the payment worker stays killed, longer than the order deadline. */
  paymentDownMs: number
  /** CONSUMER_ACK_WAIT_MS for the workers; undefined keeps the product default (30 s). */
  ackWaitMs: number | undefined
  /** After the load, how long every accepted order has to become final. */
  finalDeadlineMs: number
  /** A client gives up retrying an order after this long. */
  giveUpAfterMs: number
  seed: number
}

export const CI_PROFILE: ChaosProfile = {
  name: 'ci',
  ratePerSec: 20,
  durationMs: 12_000,
  faults: 2,
  workerDownMs: 1_000,
  serverDownMs: 2_000,
  nodeDownMs: 2_000,
  gatewayOutageMs: 5_000,
  processorDownMs: 6_000,
  paymentDownMs: 8_000,
  ackWaitMs: 5_000,
  finalDeadlineMs: 60_000,
  giveUpAfterMs: 30_000,
  seed: 1,
}

export const LONG_PROFILE: ChaosProfile = {
  name: 'long',
  ratePerSec: 30,
  durationMs: 60_000,
  faults: 5,
  workerDownMs: 2_000,
  serverDownMs: 5_000,
  nodeDownMs: 5_000,
  gatewayOutageMs: 20_000,
  processorDownMs: 20_000,
  paymentDownMs: 20_000,
  ackWaitMs: undefined,
  finalDeadlineMs: 180_000,
  giveUpAfterMs: 60_000,
  seed: 7,
}

/** Units of the short sku: about half of what its orders ask for, so it sells out mid-run. */
export function shortStock(profile: ChaosProfile): number {
  return Math.max(5, Math.round((profile.ratePerSec * profile.durationMs) / 1000 / 10))
}
