/**
 * The one `onError` and `notFound` of every service: known errors become a
 * status and `{ error, message }`, a client that went away mid-request is
 * neither a 500 nor an `error` log line, anything else is a logged 500 with a
 * generic body.
 */
import type { Context, Env, ErrorHandler, NotFoundHandler } from 'hono'
import { HTTPException } from 'hono/http-exception'
import type { Logger } from '../observability/log.ts'
import { BodyReadError, BodyTimeoutError, requestTimeout } from './body-limit.ts'

/**
 * Not sent (nobody is there to read it): the status a request gets when its
 * client went away, as nginx logs it, so metrics count it apart from 5xx.
 */
export const CLIENT_CLOSED_REQUEST = 499

/** Error codes Node's HTTP server gives a body stream whose client went away. */
const ABORT_CODES = new Set(['ECONNRESET', 'ERR_STREAM_PREMATURE_CLOSE', 'ECONNABORTED', 'EPIPE'])

/**
 * True when `error` comes from the client leaving (aborted upload, reset
 * connection, a chunked body the server could not parse). Bun rejects a body
 * read with `AbortError: The connection was closed.`, Node with `Error:
 * aborted` (ECONNRESET); both abort the request's signal. workerd's is a
 * {@link BodyReadError}.
 */
export function isClientAbort(error: unknown, request: Request): boolean {
  if (request.signal.aborted || error instanceof BodyReadError) return true
  const code = (error as { code?: unknown } | null)?.code
  return typeof code === 'string' && ABORT_CODES.has(code)
}

export interface ErrorHandlerOptions<E extends Env> {
  logger: Pick<Logger, 'error' | 'debug'>
  /** This service's known errors: a response, or undefined for the rest. */
  known?: (error: Error, c: Context<E>) => Response | undefined
}

export function createErrorHandler<E extends Env = Env>({
  logger,
  known,
}: ErrorHandlerOptions<E>): ErrorHandler<E> {
  return (error, c) => {
    if (isClientAbort(error, c.req.raw)) {
      logger.debug({ err: error, method: c.req.method, path: c.req.path }, 'client went away mid-request')
      return new Response(null, { status: CLIENT_CLOSED_REQUEST })
    }
    if (error instanceof BodyTimeoutError) {
      logger.debug({ err: error, method: c.req.method, path: c.req.path }, 'request body timed out')
      return requestTimeout(c, error.deadlineMs)
    }
    const mapped = known?.(error, c)
    if (mapped !== undefined) return mapped
    if (error instanceof HTTPException && error.status < 500) {
      return c.json({ error: 'bad_request', message: error.message || 'bad request' }, error.status)
    }
    logger.error({ err: error, method: c.req.method, path: c.req.path }, 'unhandled error')
    return c.json({ error: 'internal', message: 'internal error' }, 500)
  }
}

export const notFound: NotFoundHandler = (c) =>
  c.json(
    // HEAD is answered as GET (head.ts): the same body, so the same length.
    {
      error: 'not_found',
      message: `no route ${c.req.method === 'HEAD' ? 'GET' : c.req.method} ${c.req.path}`,
    },
    404,
  )
