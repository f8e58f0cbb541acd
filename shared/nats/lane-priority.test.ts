import { describe, expect, it } from 'vitest'
import { createLanePriority } from './lane-priority.ts'

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
})
