import { describe, expect, it } from 'vitest'
import { createWorkersWsFactory, toHttpUrl, WebSocketUpgradeError } from './workers-websocket.ts'

describe('toHttpUrl', () => {
  it.each([
    ['ws://127.0.0.1:8080/', 'http://127.0.0.1:8080/'],
    ['wss://nats.example.com:443/', 'https://nats.example.com:443/'],
    ['WSS://nats.example.com/path?q=1', 'https://nats.example.com/path?q=1'],
  ])('turns %s into %s', (from, to) => {
    expect(toHttpUrl(from)).toBe(to)
  })
})

describe('createWorkersWsFactory', () => {
  it('fetches the http(s) URL with Upgrade: websocket and accepts the socket', async () => {
    const calls: { url: string; headers: unknown }[] = []
    let accepted = 0
    const socket = { accept: () => accepted++ }
    const fakeFetch = (url: string, init?: RequestInit) => {
      calls.push({ url, headers: init?.headers })
      return Promise.resolve({ status: 101, body: null, webSocket: socket })
    }
    const factory = createWorkersWsFactory(fakeFetch as unknown as typeof fetch)
    const result = await factory('wss://nats.example.com:443/', {})
    expect(calls).toStrictEqual([{ url: 'https://nats.example.com:443/', headers: { Upgrade: 'websocket' } }])
    expect(accepted).toBe(1)
    expect(result.encrypted).toBe(true)
    expect(result.socket).toBe(socket)
  })

  it('rejects when the server does not upgrade', async () => {
    const fakeFetch = () => Promise.resolve(new Response('no', { status: 426 }))
    const factory = createWorkersWsFactory(fakeFetch as unknown as typeof fetch)
    await expect(factory('ws://127.0.0.1:1/', {})).rejects.toThrow(WebSocketUpgradeError)
  })
})
