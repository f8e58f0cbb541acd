import { DEAD_LETTER_HEADERS } from '../../schemas/subjects.ts'

/**
 * Those of {@link NOT_PUBLISHED_HEADERS} a message keeps in the stream, so
 * that a reader of stored messages (a direct get adds the others to every
 * answer) can refuse what the consumer loop refuses: the analytics replay.
 */
export const STORED_COPY_HEADERS = [
  // What a stream sourcing another stores with each copy: no publisher may set
  // it (nats-server refuses it), so it marks a source added to an event
  // stream's configuration, whose subject transform could write any stored
  // body onto an event subject.
  'Nats-Stream-Source',
  ...Object.values(DEAD_LETTER_HEADERS),
] as const

/** What nats-server adds to every answer of a batch direct get (the analytics replay's read). */
export const DIRECT_GET_HEADERS = [
  'Nats-Stream',
  'Nats-Sequence',
  'Nats-Subject',
  'Nats-Time-Stamp',
  'Nats-Num-Pending',
  'Nats-Last-Sequence',
] as const

/**
 * Headers no published event carries: those nats-server puts on a direct
 * get's answer and on a sourced copy, and a dead letter's (a replay publishes the original from
 * `ORDERS`, without them). A JetStream answer goes to whatever reply subject
 * its request named, so an identity that may both write a stream and read it
 * back (a direct get, or a pull from a dead-letter consumer) could have the
 * server publish a stored body of its choosing on an event subject
 * (docs/security.md, "JetStream answers go where the requester says"): such
 * a copy carries one of these and is refused, whatever its body says.
 */
export const NOT_PUBLISHED_HEADERS = [...DIRECT_GET_HEADERS, ...STORED_COPY_HEADERS] as const

/** The first of {@link NOT_PUBLISHED_HEADERS} a message carries: it is a stored copy, not what its publisher sent. */
export function notPublishedMarker(headers: { has(name: string): boolean } | undefined): string | undefined {
  return NOT_PUBLISHED_HEADERS.find((name) => headers?.has(name) === true)
}
