import { describe, expect, it } from 'vitest'
import {
  checkNatsServerVersion,
  compareVersions,
  MIN_NATS_SERVER_VERSION,
  NatsServerTooOldError,
} from './server-version.ts'

describe('compareVersions', () => {
  it.each([
    ['2.10.27', '2.12.0', -1],
    ['v2.15.1', '2.12.0', 1],
    ['2.12.0', 'v2.12.0', 0],
    ['2.12', '2.12.0', 0],
    ['2.12.0-RC.1', '2.12.0', -1],
    ['2.12.0', '2.12.0-RC.1', 1],
    ['2.12.0-RC.1', '2.12.0-RC.2', -1],
    ['2.9.10', '2.10.0', -1],
    ['10.0.0', '9.99.99', 1],
  ] as const)('compares %s with %s as %i', (a, b, expected) => {
    expect(compareVersions(a, b)).toBe(expected)
  })
})

describe('checkNatsServerVersion', () => {
  it('needs 2.12.0 or newer', () => {
    expect(MIN_NATS_SERVER_VERSION).toBe('2.12.0')
  })

  it.each(['2.12.0', '2.15.1', '3.0.0'])('accepts a server that reports %s', (version) => {
    expect(() => checkNatsServerVersion({ version }, 'nats://n1:4222')).not.toThrow()
  })

  it('rejects an older server with the version found and the one needed', () => {
    let caught: unknown
    try {
      checkNatsServerVersion({ version: '2.10.27' }, 'nats://n1:4222')
    } catch (error) {
      caught = error
    }
    expect(caught).toBeInstanceOf(NatsServerTooOldError)
    expect(caught).toMatchObject({
      name: 'NatsServerTooOldError',
      found: '2.10.27',
      needed: '2.12.0',
      message:
        'nats-server 2.10.27 at nats://n1:4222 is too old: this project needs nats-server >= 2.12.0 (docs/nats-server.md)',
    })
  })

  it('rejects a release candidate of the minimum', () => {
    expect(() => checkNatsServerVersion({ version: '2.12.0-RC.3' }, 'x')).toThrow(NatsServerTooOldError)
  })

  it('rejects an INFO without a version as unknown', () => {
    expect(() => checkNatsServerVersion({}, 'x')).toThrow(/nats-server unknown at x is too old/)
    expect(() => checkNatsServerVersion(undefined, 'x')).toThrow(NatsServerTooOldError)
  })
})
