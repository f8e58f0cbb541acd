// Keep-alive HTTP POSTs for the load generator (node:http: the client with the
// least overhead per request on Node 20).
import { Agent, request } from 'node:http'

export interface PostResult {
  status: number
  /** The response body, read only when asked for (`wantBody`). */
  body: string
}

export function createHttpDriver(baseUrl: string, connections: number) {
  const url = new URL('/orders', baseUrl)
  const agent = new Agent({ keepAlive: true, maxSockets: connections, maxFreeSockets: connections })
  return {
    post(body: string, headers: Record<string, string>, wantBody: boolean): Promise<PostResult> {
      return new Promise((resolve, reject) => {
        const req = request(
          {
            agent,
            hostname: url.hostname,
            port: url.port,
            path: url.pathname,
            method: 'POST',
            headers: {
              'Content-Type': 'application/json',
              'Content-Length': Buffer.byteLength(body),
              ...headers,
            },
          },
          (res) => {
            const chunks: Buffer[] = []
            res.on('data', (chunk: Buffer) => {
              if (wantBody) chunks.push(chunk)
            })
            res.on('end', () =>
              resolve({
                status: res.statusCode ?? 0,
                body: wantBody ? Buffer.concat(chunks).toString('utf8') : '',
              }),
            )
            res.on('error', reject)
          },
        )
        req.setTimeout(30_000, () => req.destroy(new Error('request timed out after 30 s')))
        req.on('error', reject)
        req.end(body)
      })
    },
    close(): void {
      agent.destroy()
    },
  }
}
