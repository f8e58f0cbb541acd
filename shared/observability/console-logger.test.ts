import { describe, expect, it } from 'vitest'
import { createConsoleLogger } from './console-logger.ts'

const at = new Date('2026-01-02T03:04:05.000Z')

function capture(level = 'info') {
  const lines: unknown[] = []
  const logger = createConsoleLogger({
    service: 'order-edge',
    level,
    write: (line) => lines.push(JSON.parse(line)),
    now: () => at,
  })
  return { logger, lines }
}

describe('createConsoleLogger', () => {
  it('writes pino-shaped JSON lines with bindings, fields and message', () => {
    const { logger, lines } = capture()
    logger.child({ correlationId: 'c-1' }).info({ orderId: 'o-1' }, 'order accepted')
    logger.warn('plain message')
    expect(lines).toStrictEqual([
      {
        level: 'info',
        time: '2026-01-02T03:04:05.000Z',
        service: 'order-edge',
        correlationId: 'c-1',
        orderId: 'o-1',
        msg: 'order accepted',
      },
      { level: 'warn', time: '2026-01-02T03:04:05.000Z', service: 'order-edge', msg: 'plain message' },
    ])
  })

  it('drops lines below the level and everything when silent', () => {
    const warn = capture('warn')
    warn.logger.info('no')
    warn.logger.debug('no')
    warn.logger.error('yes')
    expect(warn.lines).toHaveLength(1)
    const silent = capture('silent')
    silent.logger.error('no')
    expect(silent.lines).toStrictEqual([])
  })

  it('redacts payment tokens at the top level and one level down', () => {
    const { logger, lines } = capture()
    logger.info(
      { paymentToken: 'tok_1', token: 'tok_2', request: { paymentToken: 'tok_3', customerId: 'c' } },
      'x',
    )
    expect(lines[0]).toMatchObject({
      paymentToken: '[redacted]',
      token: '[redacted]',
      request: { paymentToken: '[redacted]', customerId: 'c' },
    })
  })

  it('serialises errors with type, message, stack and cause', () => {
    const { logger, lines } = capture()
    logger.error({ err: new TypeError('outer', { cause: new Error('inner') }) }, 'failed')
    expect(lines[0]).toMatchObject({
      err: {
        type: 'TypeError',
        message: 'outer',
        stack: expect.stringContaining('TypeError: outer'),
        cause: { type: 'Error', message: 'inner' },
      },
    })
  })
})
