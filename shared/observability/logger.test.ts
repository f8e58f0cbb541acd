import { spawnSync } from 'node:child_process'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { ConfigError } from '../config/load-config.ts'
import { redactFields } from './log.ts'
import { createLogger, logFormatFromEnv, turnBatchedStdout } from './logger.ts'

describe('logFormatFromEnv', () => {
  it.each([
    [{}, 'json'],
    [{ LOG_FORMAT: '' }, 'json'],
    [{ LOG_FORMAT: 'json' }, 'json'],
    [{ LOG_FORMAT: 'pretty' }, 'pretty'],
  ] as const)('reads %j as %s', (env, format) => {
    expect(logFormatFromEnv(env)).toBe(format)
  })

  it('rejects any other value with a message naming the variable and the choices', () => {
    expect(() => logFormatFromEnv({ LOG_FORMAT: 'Pretty' })).toThrow(ConfigError)
    expect(() => logFormatFromEnv({ LOG_FORMAT: 'Pretty' })).toThrow(
      'LOG_FORMAT: must be json or pretty, got "Pretty"',
    )
  })
})

describe('turnBatchedStdout', () => {
  const recorder = () => {
    const writes: string[] = []
    return { writes, out: { write: (chunk: string) => void writes.push(chunk) } }
  }
  const endOfTurn = () => new Promise((resolve) => setImmediate(resolve))

  it('writes the lines of one turn together at its end, in order', async () => {
    const { writes, out } = recorder()
    const stdout = turnBatchedStdout(out)
    stdout.write('a\n')
    stdout.write('b\n')
    stdout.write('c\n')
    expect(writes).toStrictEqual([])
    await endOfTurn()
    expect(writes).toStrictEqual(['a\nb\nc\n'])
    stdout.write('d\n')
    await endOfTurn()
    expect(writes).toStrictEqual(['a\nb\nc\n', 'd\n'])
  })

  it('writes what is waiting at once when flushed', () => {
    const { writes, out } = recorder()
    const stdout = turnBatchedStdout(out)
    stdout.write('last words\n')
    stdout.flushSync()
    expect(writes).toStrictEqual(['last words\n'])
    stdout.flushSync()
    expect(writes).toHaveLength(1)
  })

  it('loses no line when the process exits in the turn that logged it', () => {
    const script = [
      `import { createLogger } from ${JSON.stringify(join(import.meta.dirname, 'logger.ts'))}`,
      `const log = createLogger({ service: 'exit-test', level: 'info', format: 'json' })`,
      `for (let i = 0; i < 3; i++) log.info({ i }, 'before exit')`,
      `process.exit(3)`,
    ].join('\n')
    // Under Bun, the services' runtime.
    const bun = join(import.meta.dirname, '..', '..', 'node_modules', '.bin', 'bun')
    const result = spawnSync(bun, ['-e', script], { encoding: 'utf8', timeout: 20_000 })
    expect(result.status).toBe(3)
    const lines = result.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { i: number; msg: string })
    expect(lines.map((l) => [l.i, l.msg])).toStrictEqual([
      [0, 'before exit'],
      [1, 'before exit'],
      [2, 'before exit'],
    ])
  })
})

describe('redaction of card tokens', () => {
  const capture = () => {
    const lines: Record<string, unknown>[] = []
    const logger = createLogger({
      service: 't',
      level: 'info',
      destination: { write: (line) => lines.push(JSON.parse(line) as Record<string, unknown>) },
    })
    return { logger, lines }
  }

  it('hides paymentToken and token at the top level and one level down, in fields and bindings', () => {
    const { logger, lines } = capture()
    logger
      .child({ token: 'tok_bound', request: { paymentToken: 'tok_bound_nested' } })
      .info({ paymentToken: 'tok_1', token: 'tok_2', order: { paymentToken: 'tok_3', customerId: 'c' } }, 'x')
    expect(lines).toHaveLength(1)
    expect(lines[0]).toMatchObject({
      token: '[redacted]',
      paymentToken: '[redacted]',
      request: { paymentToken: '[redacted]' },
      order: { paymentToken: '[redacted]', customerId: 'c' },
      msg: 'x',
    })
    logger.child({ orderId: 'o' }).child({ paymentToken: 'tok_grandchild' }).info('z')
    expect(lines[1]).toMatchObject({ orderId: 'o', paymentToken: '[redacted]', msg: 'z' })
    expect(JSON.stringify(lines)).not.toMatch(/tok_/)
  })

  it("logs a DOMException (a timeout's) with its name and code, not the constants it inherits", () => {
    const { logger, lines } = capture()
    const error = new DOMException('The operation timed out.', 'TimeoutError')
    logger.warn({ err: error }, 'probe failed')
    const err = lines[0]?.['err'] as Record<string, unknown>
    expect(err).toMatchObject({
      type: 'DOMException',
      message: 'The operation timed out.',
      name: 'TimeoutError',
    })
    expect(Object.keys(err).filter((key) => /^[A-Z_]+$/.test(key))).toStrictEqual([])
    // Other errors keep every field of their own.
    logger.warn({ err: Object.assign(new Error('x'), { CODE_X: 1 }) }, 'other')
    expect(lines[1]?.['err']).toMatchObject({ message: 'x', CODE_X: 1 })
  })

  it('types an error by its own name, which a minified binary keeps (it renames the class)', () => {
    const { logger, lines } = capture()
    // As a minified build leaves it: the class renamed, the name it sets kept.
    const Renamed = class Ha extends Error {
      override name = 'LedgerFileError'
    }
    logger.error({ err: new Renamed('x') }, 'a')
    logger.error({ err: new Error('y') }, 'b')
    expect(lines.map((l) => (l['err'] as { type: string }).type)).toStrictEqual(['LedgerFileError', 'Error'])
  })

  it('keeps an error an error when it hides a token on it: type, message and stack still logged', () => {
    const { logger, lines } = capture()
    const err = Object.assign(new TypeError('card refused'), { paymentToken: 'tok_on_error' })
    logger.error({ err }, 'failed')
    expect(lines[0]).toMatchObject({
      err: {
        type: 'TypeError',
        message: 'card refused',
        stack: expect.stringContaining('TypeError: card refused'),
        paymentToken: '[redacted]',
      },
    })
    expect(JSON.stringify(lines)).not.toMatch(/tok_/)
    expect(err.paymentToken).toBe('tok_on_error')
  })

  it('leaves other fields alone, and copies nothing when there is nothing to hide', () => {
    const fields = { orderId: 'o', items: [{ sku: 'A' }], nested: { deep: { paymentToken: 'tok_deep' } } }
    expect(redactFields(fields)).toBe(fields)
    const { logger, lines } = capture()
    logger.info(fields, 'y')
    expect(lines[0]).toMatchObject(fields)
    const hidden = { orderId: 'o', paymentToken: 'tok_x' }
    expect(redactFields(hidden)).toStrictEqual({ orderId: 'o', paymentToken: '[redacted]' })
    expect(hidden.paymentToken).toBe('tok_x')
  })
})
