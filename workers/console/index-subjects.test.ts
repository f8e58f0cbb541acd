import { describe, expect, it } from 'vitest'
import {
  customerEntryFilter,
  customerFilter,
  customerSubject,
  decodeCustomer,
  encodeCustomer,
  entryBody,
  entrySubject,
  newerFirst,
  orderFilter,
  parseCursor,
  parseCustomerEntry,
  parseEntry,
  searchFilter,
  toCursor,
  type IndexEntry,
} from './index-subjects.ts'
import { mintedAt } from '../../schemas/primitives.ts'
import { filtersOverlap } from '../../shared/nats/subjects.ts'

const ORDER = '019ae5a0-5b3c-7d2e-8f10-123456789abc'
const CREATED = Date.parse('2026-12-03T18:49:22.071Z')
const entry: IndexEntry = {
  orderId: ORDER,
  status: 'cancelled',
  reason: 'out_of_stock',
  customerId: 'alice',
  createdMs: CREATED,
  amountCents: 2500,
  updatedAt: '2026-12-03T18:49:23.000Z',
}

describe('order index subjects', () => {
  it('spells status, reason, creation time (UTC) and customer in one subject', () => {
    expect(entrySubject(entry)).toBe(`oix.o.cancelled.out_of_stock.20261203.18.49.22.alice.${ORDER}`)
    expect(entrySubject({ orderId: ORDER, status: 'pending', createdMs: CREATED })).toBe(
      `oix.o.pending.-.20261203.18.49.22.~.${ORDER}`,
    )
  })

  it('reads an entry back from its subject and body', () => {
    expect(parseEntry(entrySubject(entry), new TextEncoder().encode(entryBody(entry)))).toStrictEqual(entry)
    const express = { ...entry, priority: 'express' }
    expect(parseEntry(entrySubject(express), new TextEncoder().encode(entryBody(express)))).toStrictEqual(
      express,
    )
    expect(parseEntry(`oix.c.alice.20261203.18.49.${ORDER}`, new Uint8Array())).toBeNull()
    expect(parseEntry(`oix.o.lost.-.20261203.18.49.22.alice.${ORDER}`, new Uint8Array())).toBeNull()
  })

  it.each([
    ['alice', 'alice'],
    ['cust-42_b', 'cust-42_b'],
    ['a.b', 'a~2Eb'],
    ['x y*>', 'x~20y~2A~3E'],
    ['~', '~7E'],
    ['zoë', 'zo~C3~AB'],
  ])('encodes customer %j as one subject token %j and back', (id, token) => {
    expect(encodeCustomer(id)).toBe(token)
    expect(decodeCustomer(token)).toBe(id)
  })

  it('finds every entry of one order, whatever its status, and nothing of another', () => {
    const filter = orderFilter(ORDER, CREATED)
    expect(filtersOverlap(filter, entrySubject(entry))).toBe(true)
    const confirmed = {
      orderId: ORDER,
      status: 'confirmed',
      customerId: 'alice',
      createdMs: CREATED,
    } as const
    expect(filtersOverlap(filter, entrySubject(confirmed))).toBe(true)
    expect(filtersOverlap(filter, entrySubject({ ...entry, orderId: ORDER.replace('abc', 'abd') }))).toBe(
      false,
    )
  })

  it('narrows a search by status, reason, customer and time slot', () => {
    const subject = entrySubject(entry)
    expect(searchFilter({}, [])).toBe('oix.o.*.*.*.*.*.*.*.*')
    expect(searchFilter({ status: 'cancelled' }, ['20261203', '18'])).toBe(
      'oix.o.cancelled.*.20261203.18.*.*.*.*',
    )
    for (const [search, slot, hit] of [
      [{ status: 'cancelled' }, ['20261203', '18'], true],
      [{ status: 'cancelled', reason: 'out_of_stock' }, ['20261203', '18', '49', '22'], true],
      [{ status: 'confirmed' }, [], false],
      [{ customerId: 'alice' }, ['20261203'], true],
      [{ customerId: 'bob' }, [], false],
      [{}, ['20261203', '19'], false],
    ] as const) {
      expect(filtersOverlap(searchFilter(search, slot), subject), JSON.stringify([search, slot])).toBe(hit)
    }
  })

  it('files an order under its customer, by day, hour and minute', () => {
    const subject = customerSubject('alice', CREATED, ORDER)
    expect(subject).toBe(`oix.c.alice.20261203.18.49.${ORDER}`)
    expect(parseCustomerEntry(subject)).toStrictEqual({ orderId: ORDER, createdMs: mintedAt(ORDER) })
    expect(filtersOverlap(customerFilter('alice', []), subject)).toBe(true)
    expect(filtersOverlap(customerFilter('alice', ['20261202']), subject)).toBe(false)
    expect(filtersOverlap(customerEntryFilter(ORDER, CREATED), subject)).toBe(true)
  })

  it('pages newest first with a cursor of creation time and order id', () => {
    const cursor = { createdMs: CREATED, orderId: ORDER }
    expect(parseCursor(toCursor(cursor))).toStrictEqual(cursor)
    expect(parseCursor('12_not-an-id')).toBeNull()
    const older = { createdMs: CREATED - 1, orderId: 'f'.repeat(36) }
    const sameTimeSmallerId = { createdMs: CREATED, orderId: ORDER.replace('abc', 'abb') }
    expect([older, sameTimeSmallerId, cursor].sort(newerFirst)).toStrictEqual([
      cursor,
      sameTimeSmallerId,
      older,
    ])
  })

  it('reads the minting time of a UUIDv7 and nothing from other UUIDs', () => {
    expect(mintedAt('0190f0f0-0000-7000-8000-000000000000')).toBe(0x0190f0f00000)
    expect(mintedAt('0190f0f0-0000-4000-8000-000000000000')).toBeNull()
  })
})
