import { describe, expect, it } from 'vitest'
import { createLanePriority, runInLane } from './lane-priority.ts'
import { laneYield } from './lane-yield.ts'

const settled = async (promise: Promise<void> | undefined) => {
  let done = false
  void promise?.then(() => (done = true))
  await new Promise((r) => setTimeout(r, 5))
  return done
}

describe('lane priority', () => {
  it('lets standard work through at once while no express message is in flight', () => {
    const lanes = createLanePriority({ maxHoldMs: 1_000 })
    expect(lanes.yieldToExpress()).toBeUndefined()
    lanes.expressStarted()()
    expect(lanes.yieldToExpress()).toBeUndefined()
  })

  it('holds standard work until the last express message in flight is done', async () => {
    const lanes = createLanePriority({ maxHoldMs: 10_000 })
    const first = lanes.expressStarted()
    const second = lanes.expressStarted()
    const held = lanes.yieldToExpress()
    expect(held).toBeInstanceOf(Promise)
    first()
    first() // twice changes nothing
    expect(lanes.expressActive()).toBe(1)
    expect(await settled(held)).toBe(false)
    second()
    expect(await settled(held)).toBe(true)
    expect(lanes.expressActive()).toBe(0)
  })

  it('never holds standard work longer than maxHoldMs', async () => {
    const lanes = createLanePriority({ maxHoldMs: 20 })
    lanes.expressStarted()
    const started = performance.now()
    await lanes.yieldToExpress()
    const waited = performance.now() - started
    expect(waited).toBeGreaterThanOrEqual(15)
    expect(waited).toBeLessThan(1_000)
  })

  it('never holds when maxHoldMs is 0', () => {
    const lanes = createLanePriority({ maxHoldMs: 0 })
    lanes.expressStarted()
    expect(lanes.yieldToExpress()).toBeUndefined()
  })

  it('holds the requests of standard work already under way, and never those of express work', async () => {
    const lanes = createLanePriority({ maxHoldMs: 10_000 })
    const order: string[] = []
    // A store's request: waits where laneYield() says, then counts as sent.
    const request = async (name: string) => {
      const held = laneYield()
      if (held !== undefined) await held
      order.push(name)
    }
    // The standard message is inside its handler when the express one arrives.
    let standardMayGoOn: () => void = () => undefined
    const standard = runInLane(lanes, 'standard', async () => {
      await request('standard 1')
      await new Promise<void>((resolve) => (standardMayGoOn = resolve))
      await request('standard 2')
    })
    await settled(undefined)
    const expressDone = lanes.expressStarted()
    const express = runInLane(lanes, 'express', async () => {
      await request('express 1')
      await new Promise((r) => setTimeout(r, 20))
      await request('express 2')
    })
    standardMayGoOn()
    await express
    expect(await settled(standard)).toBe(false) // held at its second request
    expressDone()
    await standard
    expect(order).toStrictEqual(['standard 1', 'express 1', 'express 2', 'standard 2'])
  })

  it('holds nothing outside a message (the intake, a test) or with maxHoldMs 0', () => {
    const lanes = createLanePriority({ maxHoldMs: 0 })
    const done = createLanePriority({ maxHoldMs: 1_000 }).expressStarted()
    expect(laneYield()).toBeUndefined()
    lanes.expressStarted()
    expect(runInLane(lanes, 'standard', () => laneYield())).toBeUndefined()
    done()
  })
})
