/**
 * Test fixture: a request body that never ends and counts how often it was
 * read, to tell whether a service read a body before it checked the key.
 * Used only by tests.
 */
export interface EndlessBody {
  /** Pass as `body` with `duplex: 'half'`. */
  stream: ReadableStream<Uint8Array>
  /** Chunks handed out so far (each 1 KiB). */
  reads(): number
}

export function endlessBody(): EndlessBody {
  let reads = 0
  const stream = new ReadableStream<Uint8Array>(
    {
      pull(controller) {
        reads++
        controller.enqueue(new Uint8Array(1024).fill(0x20))
      },
    },
    // Nothing is pulled until somebody reads.
    { highWaterMark: 0 },
  )
  return { stream, reads: () => reads }
}

/** `RequestInit` for a streamed (chunked) body. */
export function streamed(
  method: string,
  body: ReadableStream<Uint8Array>,
  headers: Record<string, string>,
): RequestInit {
  return { method, body, headers, duplex: 'half' } as RequestInit
}
