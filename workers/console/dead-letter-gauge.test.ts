import { describe, expect, it } from 'vitest'
import type { DeadLetterSummary } from '../../shared/nats/dead-letter-admin.ts'
import { createLogger } from '../../shared/observability/logger.ts'
import { Registry } from '../../shared/observability/prom.ts'
import { registerDeadLetterGauge } from './dead-letter-gauge.ts'

const letter = { consumer: 'payment', reason: 'max_deliver_exhausted' } as DeadLetterSummary

describe('dead_letters_waiting_by_consumer', () => {
  it('reads the queue once for the scrapes of its fresh period, then again', async () => {
    const registry = new Registry()
    let reads = 0
    let letters: DeadLetterSummary[] = [letter, letter]
    registerDeadLetterGauge({
      registry,
      list: () => {
        reads++
        return Promise.resolve(letters)
      },
      logger: createLogger({ service: 't', level: 'silent' }),
      timeoutMs: 1_000,
      freshMs: 200,
    })
    const scrape = async () =>
      /dead_letters_waiting_by_consumer\{consumer="payment",reason="max_deliver_exhausted"\} (\d+)/.exec(
        await registry.metrics(),
      )?.[1]
    await Promise.all(Array.from({ length: 20 }, scrape))
    expect(await scrape()).toBe('2')
    expect(reads).toBe(1)
    letters = []
    expect(await scrape()).toBe('2')
    await new Promise((resolve) => setTimeout(resolve, 250))
    expect(await scrape()).toBe('0')
    expect(reads).toBe(2)
  })

  it('does not read again at every scrape while the queue cannot be read', async () => {
    const registry = new Registry()
    let reads = 0
    registerDeadLetterGauge({
      registry,
      list: () => {
        reads++
        return Promise.reject(new Error('NATS gone'))
      },
      logger: createLogger({ service: 't', level: 'silent' }),
      timeoutMs: 1_000,
      freshMs: 200,
    })
    for (let i = 0; i < 10; i++)
      expect(await registry.metrics()).not.toMatch(/^dead_letters_waiting_by_consumer\{/m)
    expect(reads).toBe(1)
  })
})
