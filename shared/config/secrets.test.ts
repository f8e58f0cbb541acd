import { describe, expect, it } from 'vitest'
import { ConfigError } from './load-config.ts'
import { shownUrl } from './shown-url.ts'
import { caFileProblems, loadWithSecretFiles, withSecretFiles } from './secrets.ts'
import { loadOrderConfig } from '../../workers/order/config.ts'

const files: Record<string, string> = {
  '/run/secrets/seed': 'SUSECRETSECRET123\n',
  '/run/secrets/seed-crlf-blank': 'SUSECRETSECRET123 \t\r\n\r\n\n',
  '/run/secrets/empty': '',
  '/run/secrets/blank': '\n',
  '/etc/nats/ca.pem': '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n',
  '/etc/nats/public-key.pem': '-----BEGIN PUBLIC KEY-----\nMCow\n-----END PUBLIC KEY-----\n',
}
const read = (path: string): string => {
  const text = files[path]
  if (text === undefined) throw Object.assign(new Error('no such file'), { code: 'ENOENT' })
  return text
}
const problemsOf = (env: Record<string, string>): readonly string[] => {
  try {
    withSecretFiles(env, ['NATS_NKEY_SEED', 'API_KEYS'], read)
    return []
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error
    return error.problems
  }
}

describe('secrets from files', () => {
  it('reads NAME_FILE into NAME, its trailing newline dropped', () => {
    expect(
      withSecretFiles({ NATS_NKEY_SEED_FILE: '/run/secrets/seed' }, ['NATS_NKEY_SEED'], read),
    ).toMatchObject({ NATS_NKEY_SEED: 'SUSECRETSECRET123' })
  })

  it('drops trailing spaces, CRLF and blank lines too: an editor adds them, no secret ends with them', () => {
    expect(
      withSecretFiles({ NATS_NKEY_SEED_FILE: '/run/secrets/seed-crlf-blank' }, ['NATS_NKEY_SEED'], read),
    ).toMatchObject({ NATS_NKEY_SEED: 'SUSECRETSECRET123' })
  })

  it('refuses an empty file (it is not "unset") and lists it with the other problems, never the value', () => {
    const problems = problemsOf({
      NATS_NKEY_SEED_FILE: '/run/secrets/empty',
      API_KEYS_FILE: '/run/secrets/blank',
    })
    expect(problems).toStrictEqual([
      'NATS_NKEY_SEED_FILE: /run/secrets/empty is empty',
      'API_KEYS_FILE: /run/secrets/blank is empty',
    ])
    expect(problemsOf({ NATS_NKEY_SEED_FILE: '/run/secrets/missing', NATS_NKEY_SEED: '' })).toStrictEqual([
      'NATS_NKEY_SEED_FILE: cannot read /run/secrets/missing (ENOENT)',
    ])
    expect(
      problemsOf({ NATS_NKEY_SEED_FILE: '/run/secrets/seed', NATS_NKEY_SEED: 'SUSECRETSECRET123' }).join(' '),
    ).not.toContain('SECRETSECRET123')
  })
})

describe('a secret file that fails, with the other settings', () => {
  const problemsOf = (env: Record<string, string>): readonly string[] => {
    try {
      loadWithSecretFiles(
        env,
        ['NATS_NKEY_SEED', 'API_KEYS', 'PAYMENT_TOKEN_PUBLIC_KEY'],
        loadOrderConfig,
        read,
      )
      return []
    } catch (error) {
      if (!(error instanceof ConfigError)) throw error
      return error.problems
    }
  }

  it('lists every problem at once, the failed setting once', () => {
    expect(
      problemsOf({ NATS_NKEY_SEED_FILE: '/run/secrets/missing', PORT: 'abc', LOG_LEVEL: 'loud' }),
    ).toStrictEqual([
      'NATS_NKEY_SEED_FILE: cannot read /run/secrets/missing (ENOENT)',
      'PORT: must be an integer',
      'LOG_LEVEL: must be one of fatal, error, warn, info, debug, trace, silent',
      'PAYMENT_TOKEN_PUBLIC_KEY: is required',
      'API_KEYS: is required',
    ])
  })

  it('refuses a failed file even when the rest loads, and loads when nothing fails', () => {
    const problems = problemsOf({ PAYMENT_TOKEN_PUBLIC_KEY: '{}', API_KEYS_FILE: '/run/secrets/empty' })
    expect(problems).toContain('API_KEYS_FILE: /run/secrets/empty is empty')
    expect(problems.filter((p) => p.startsWith('API_KEYS:'))).toStrictEqual([])
    expect(() =>
      loadWithSecretFiles(
        { NATS_NKEY_SEED_FILE: '/run/secrets/seed' },
        ['NATS_NKEY_SEED'],
        (env) => env,
        read,
      ),
    ).not.toThrow()
  })
})

describe('NATS_TLS_CA_FILE', () => {
  it('is checked at start: unset or a PEM certificate passes, a missing file or another PEM is named', () => {
    expect(caFileProblems({}, read)).toStrictEqual([])
    expect(caFileProblems({ NATS_TLS_CA_FILE: '/etc/nats/ca.pem' }, read)).toStrictEqual([])
    expect(caFileProblems({ NATS_TLS_CA_FILE: '/nonexistent/ca.pem' }, read)).toStrictEqual([
      'NATS_TLS_CA_FILE: cannot read /nonexistent/ca.pem (ENOENT)',
    ])
    expect(caFileProblems({ NATS_TLS_CA_FILE: '/etc/nats/public-key.pem' }, read)).toStrictEqual([
      'NATS_TLS_CA_FILE: /etc/nats/public-key.pem holds no PEM certificate (-----BEGIN CERTIFICATE-----)',
    ])
  })
})

describe('URLs in logs and errors', () => {
  it.each([
    ['nats://user:pw@127.0.0.1:4222', 'nats://***@127.0.0.1:4222'],
    ['tls://token@nats.example:4222', 'tls://***@nats.example:4222'],
    ['http://u:p@collector:4318/v1/traces', 'http://***@collector:4318/v1/traces'],
    ['nats://127.0.0.1:4222', 'nats://127.0.0.1:4222'],
    // Not URLs as written, or not as meant: whatever is before the last @ is hidden all the same.
    ['nats://user:pa/ss@127.0.0.1:4222', 'nats://***@127.0.0.1:4222'],
    ['admin:pw@127.0.0.1:4222', '***@127.0.0.1:4222'],
    ['http://collector:4318/a@b', 'http://***@b'],
  ])('shows %s as %s', (url, shown) => {
    expect(shownUrl(url)).toBe(shown)
  })
})
