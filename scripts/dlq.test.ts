import { describe, expect, it } from 'vitest'
import { parseDlqArgs } from './dlq.ts'

describe('parseDlqArgs', () => {
  it.each([
    [['list'], { ok: true, command: { name: 'list', json: false } }],
    [['list', '--json'], { ok: true, command: { name: 'list', json: true } }],
    [
      ['list', '--subject', 'dlq.orders.created'],
      { ok: true, command: { name: 'list', json: false, subject: 'dlq.orders.created' } },
    ],
    [['show', '12'], { ok: true, command: { name: 'show', id: 12 } }],
    [['replay', '3'], { ok: true, command: { name: 'replay', id: 3 } }],
    [['purge'], { ok: true, command: { name: 'purge' } }],
    [
      ['purge', '--subject', 'dlq.payments.failed'],
      { ok: true, command: { name: 'purge', subject: 'dlq.payments.failed' } },
    ],
  ])('reads %j', (argv, expected) => {
    expect(parseDlqArgs(argv)).toStrictEqual(expected)
  })

  it.each([
    [[], 'no command given'],
    [['frobnicate'], 'unknown command "frobnicate"'],
    [['show'], 'show takes one id (a DLQ sequence), got none'],
    [['replay', '0'], 'replay takes one id (a DLQ sequence), got 0'],
    [['show', '-1'], 'show takes one id (a DLQ sequence), got -1'],
    [['replay', '1', '2'], 'replay takes one id (a DLQ sequence), got 1 2'],
    [['show', '9007199254740993'], 'show takes one id (a DLQ sequence), got 9007199254740993'],
    [['show', '7', '--json'], '--json is not an option of show'],
    ...['orders.created', 'dlq', 'dlq.', 'dlq..x', 'dlq.orders.created\u0000', 'dlq.>.x', 'dlq.or*'].map(
      (subject): [string[], string] => [
        ['purge', '--subject', subject],
        `${JSON.stringify(subject)} is not a dead-letter subject (dlq.<subject>: tokens that are not empty, * or a final > as wildcards)`,
      ],
    ),
    [['replay', '4', '--subject', 'dlq.x'], '--subject is not an option of replay'],
    [['purge', 'everything'], 'purge takes no arguments, got everything'],
    [['list', '--all'], expect.stringContaining("Unknown option '--all'")],
  ])('rejects %j', (argv, error) => {
    expect(parseDlqArgs(argv)).toStrictEqual({ ok: false, error })
  })
})
