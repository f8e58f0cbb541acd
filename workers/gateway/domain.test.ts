import { describe, expect, it } from 'vitest'
import { decideByToken, noFaults, withFaults, type Decision, type Faults, type Settling } from './domain.ts'

const answer = { slow: false, delivery: 'answer' } as const

describe('decideByToken', () => {
  const cases: [token: string, flakyAttempt: number, expected: Decision][] = [
    ['tok_ok', 0, { kind: 'succeed', ...answer }],
    ['tok_declined', 0, { kind: 'decline', code: 'card_declined', ...answer }],
    ['tok_flaky', 1, { kind: 'unavailable' }],
    ['tok_flaky', 2, { kind: 'unavailable' }],
    ['tok_flaky', 3, { kind: 'succeed', ...answer }],
    ['tok_slow', 0, { kind: 'succeed', slow: true, delivery: 'answer' }],
    ['tok_drop', 0, { kind: 'succeed', slow: false, delivery: 'drop' }],
    ['tok_error_after_charge', 0, { kind: 'succeed', slow: false, delivery: 'error' }],
    ['tok_mastercard', 0, { kind: 'decline', code: 'card_declined', ...answer }],
    ['pm_card_visa', 0, { kind: 'decline', code: 'invalid_token', ...answer }],
  ]
  it.each(cases)('decides %s (flaky attempt %i) with 2 flaky failures', (token, attempt, expected) => {
    expect(decideByToken(token, attempt, 2)).toStrictEqual(expected)
  })
})

describe('withFaults', () => {
  const succeed: Settling = { kind: 'succeed', ...answer }
  const decline: Settling = { kind: 'decline', code: 'card_declined', ...answer }
  const drawn = (over: Partial<Faults>): Faults => ({ ...noFaults, ...over })
  const cases: [name: string, decision: Settling, faults: Faults, expected: Settling][] = [
    ['no fault drawn', succeed, noFaults, succeed],
    ['slow on any token', decline, drawn({ slow: true }), { ...decline, slow: true }],
    ['a drop on a charge', succeed, drawn({ drop: true }), { ...succeed, delivery: 'drop' }],
    ['a drop on a decline', decline, drawn({ drop: true }), { ...decline, delivery: 'drop' }],
    [
      'a drop before an error',
      succeed,
      drawn({ drop: true, errorAfterCharge: true }),
      { ...succeed, delivery: 'drop' },
    ],
    ['an error after charge', succeed, drawn({ errorAfterCharge: true }), { ...succeed, delivery: 'error' }],
    [
      'the token before the dice',
      { ...succeed, delivery: 'error' },
      drawn({ drop: true, slow: true }),
      { kind: 'succeed', slow: true, delivery: 'error' },
    ],
  ]
  it.each(cases)('applies %s', (_name, decision, faults, expected) => {
    expect(withFaults(decision, faults)).toStrictEqual(expected)
  })
})
