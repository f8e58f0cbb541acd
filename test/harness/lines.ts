// Bounded in-memory capture of a child process's output, line by line.
import type { Readable } from 'node:stream'

export interface LineBuffer {
  /** Appends one line and tells the listeners. */
  push(line: string): void
  /** The lines still held (the oldest are dropped past the bound). */
  lines(): string[]
  /** Lines pushed so far, dropped ones included: a cursor for `since`. */
  total(): number
  /** Held lines pushed at or after cursor `from`. */
  since(from: number): string[]
  /** The held lines as one text, noting how many were dropped. */
  text(): string
  /** Calls `fn` for every later line; returns the unsubscribe function. */
  onLine(fn: (line: string) => void): () => void
}

export function createLineBuffer(maxLines = 5_000): LineBuffer {
  const held: string[] = []
  const listeners = new Set<(line: string) => void>()
  let pushed = 0
  const dropped = (): number => pushed - held.length
  return {
    push(line) {
      held.push(line)
      pushed++
      if (held.length > maxLines) held.shift()
      for (const fn of [...listeners]) fn(line)
    },
    lines: () => [...held],
    total: () => pushed,
    since: (from) => held.slice(Math.max(0, from - dropped())),
    text: () => (dropped() > 0 ? `[${dropped()} earlier lines dropped]\n` : '') + held.join('\n'),
    onLine(fn) {
      listeners.add(fn)
      return () => listeners.delete(fn)
    },
  }
}

/** Feeds every complete line of `stream` (and the unterminated tail at its end) to `fn`. */
export function readLines(stream: Readable | null, fn: (line: string) => void): void {
  if (stream === null) return
  let rest = ''
  stream.setEncoding('utf8')
  stream.on('data', (chunk: string) => {
    const parts = (rest + chunk).split('\n')
    rest = parts.pop() ?? ''
    for (const part of parts) fn(part.replace(/\r$/, ''))
  })
  stream.on('end', () => {
    if (rest !== '') fn(rest)
    rest = ''
  })
}

/** The lines of a nats-server log where it refused an action for lack of permission. */
export function permissionViolations(log: string): string[] {
  return log.split('\n').filter((line) => /\b(Publish|Subscription) Violation\b/.test(line))
}
