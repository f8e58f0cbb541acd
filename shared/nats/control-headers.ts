/**
 * JetStream headers that make the server act when a message is stored: roll
 * it up (`Nats-Rollup`), schedule or purge (`Nats-Schedule*`,
 * `Nats-Scheduler`), expect a stream or sequence (`Nats-Expected-*`), batch
 * (`Nats-Batch-*`), expire (`Nats-TTL`), count (`Nats-Incr`), de-duplicate
 * (`Nats-Msg-Id`). A message copied into another stream (a dead letter) or
 * published again (a replay) is stored as a plain message: none of them goes
 * with it. Left in, the copy is refused (the DLQ allows no schedules, and
 * `Nats-Expected-Stream: ORDERS` is not the DLQ), so a message carrying one
 * could never be dead-lettered; the server itself stamps a fired schedule
 * with `Nats-Scheduler` and `Nats-Schedule-Next`. `Nats-Stream-Source`, which
 * the server stamps on a sourced copy and refuses from a publisher, is left
 * out for the same reason.
 */
const CONTROL_HEADER =
  /^Nats-(Schedule|Scheduler|Expected-|Batch-|Rollup|TTL|Msg-Id$|Counter|Incr|Stream-Source$)/i

export function isControlHeader(name: string): boolean {
  return CONTROL_HEADER.test(name)
}
