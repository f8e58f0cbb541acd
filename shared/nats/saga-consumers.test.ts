import { describe, expect, it } from 'vitest'
import { consumerLane, SAGA_CONSUMER_NAMES, SAGA_CONSUMERS } from './saga-consumers.ts'

describe('saga consumers by lane', () => {
  it('puts every consumer in the lane its filters read', () => {
    for (const name of SAGA_CONSUMER_NAMES) {
      const filters: readonly string[] = SAGA_CONSUMERS[name].filters
      const express = filters.filter((f) => f.endsWith('.express'))
      const lane = consumerLane(name)
      // No filter would mean every subject, both lanes.
      expect(filters.length, name).toBeGreaterThan(0)
      if (lane === 'express') expect(express, name).toStrictEqual(filters)
      if (lane === 'standard') expect(express, name).toStrictEqual([])
      // Both lanes: express filters beside plain ones, or a wildcard that takes both (the deadline relay).
      if (lane === 'both')
        expect(express.length > 0 || filters.some((f) => f.endsWith('.>')), name).toBe(true)
    }
    expect(SAGA_CONSUMER_NAMES.filter((n) => consumerLane(n) === 'express').sort()).toStrictEqual([
      'inventory-express',
      'inventory-payments-express',
      'order-status-express',
      'payment-express',
    ])
  })
})
