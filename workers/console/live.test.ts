import { describe, expect, it } from 'vitest'
import { toChange } from './live.ts'

describe('toChange', () => {
  it('gives the creation time as a row of GET /console/api/orders does: createdMs, from the id, beside createdAt', () => {
    // A UUIDv7 minted at 2026-12-08T01:51:52.652Z.
    const minted = Date.parse('2026-12-08T01:51:52.652Z')
    const hex = minted.toString(16).padStart(12, '0')
    const orderId = `${hex.slice(0, 8)}-${hex.slice(8)}-7abc-8def-0123456789ab`
    const createdAt = '2026-12-08T01:51:53.000Z'
    expect(toChange({ orderId, status: 'pending', createdAt }, orderId)).toStrictEqual({
      orderId,
      status: 'pending',
      createdMs: minted,
      createdAt,
    })
  })

  it('reads createdMs from createdAt for an id that carries no time, and leaves it out without either', () => {
    const orderId = '3f2c9a4e-1b2d-4c5e-8f90-123456789abc'
    expect(
      toChange({ orderId, status: 'confirmed', createdAt: '2026-01-01T10:00:00Z' }, orderId),
    ).toMatchObject({
      createdMs: Date.parse('2026-01-01T10:00:00Z'),
    })
    expect(toChange({ orderId, status: 'confirmed', createdAt: 'yesterday' }, orderId)).toStrictEqual({
      orderId,
      status: 'confirmed',
      createdAt: 'yesterday',
    })
  })
})
