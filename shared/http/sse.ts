/**
 * What the Server-Sent Events routes (analytics' stream, the console's live
 * feed) share: the headers a `HEAD` answers with, and a write with a
 * deadline, so a client that stops reading cannot hold its place (and its
 * queue) for ever.
 */
import type { SSEStreamingApi } from 'hono/streaming'
import { withDeadline } from '../resilience/deadline.ts'

/** The headers of a stream (`streamSSE` sets the same); what `HEAD` answers with, no body. */
export const SSE_HEADERS = {
  'Content-Type': 'text/event-stream',
  'Cache-Control': 'no-cache',
  Connection: 'keep-alive',
} as const

/**
 * Waits for `write` at most `deadlineMs`. A write that has not completed by
 * then (the client reads nothing) aborts the stream: false, and the caller
 * stops.
 */
export async function writtenWithin(
  stream: SSEStreamingApi,
  write: Promise<unknown>,
  deadlineMs: number,
): Promise<boolean> {
  try {
    await withDeadline(write, deadlineMs, () => new Error('the client read nothing'))
    return true
  } catch {
    stream.abort()
    return false
  }
}
