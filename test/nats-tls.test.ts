// NATS over TLS: the server presents a certificate signed by a private CA;
// a service trusts that CA through NATS_TLS_CA_FILE, and nothing else connects.
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { connect } from '@nats-io/transport-node'
import * as v from 'valibot'
import { afterAll, beforeAll, expect, it } from 'vitest'
import { makeDevCertificates, type DevCertificates } from '../scripts/tls/dev-certificates.ts'
import { loadConfig } from '../shared/config/load-config.ts'
import { natsSettings } from '../shared/config/nats-settings.ts'
import { startNatsRuntime } from '../shared/nats/runtime.ts'
import { createLogger } from '../shared/observability/logger.ts'
import { createMetrics } from '../shared/observability/metrics.ts'
import { startNatsServer, type NatsServerHandle } from './harness/nats-server.ts'
import { authAs, testSecrets } from './harness/test-secrets.ts'
import { provisionNats } from './support/provision.ts'

let dir: string
let certs: DevCertificates
let server: NatsServerHandle

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'nats-tls-'))
  certs = await makeDevCertificates(dir, ['localhost', '127.0.0.1'])
  server = await startNatsServer({
    websocket: false,
    config: `tls { cert_file: ${JSON.stringify(certs.certFile)}, key_file: ${JSON.stringify(certs.keyFile)} }`,
  })
  await provisionNats([server.url], { NATS_TLS_CA_FILE: certs.caFile })
}, 60_000)

afterAll(async () => {
  await server?.dispose()
  await rm(dir, { recursive: true, force: true })
})

it('a service that trusts the CA connects over TLS with its identity', async () => {
  const config = loadConfig(v.object(natsSettings), {
    NATS_URL: server.url,
    NATS_NKEY_SEED: testSecrets().nats.payment.seed,
    NATS_TLS_CA_FILE: certs.caFile,
    NATS_CONNECT_TIMEOUT_MS: '5000',
  })
  const rt = await startNatsRuntime('payment', config, {
    connect,
    logger: createLogger({ service: 'tls-test', level: 'silent' }),
    metrics: createMetrics('tls-test'),
  })
  try {
    expect(rt.nc.info?.tls_required).toBe(true)
    expect((await rt.readiness.check()).ok).toBe(true)
  } finally {
    await rt.nc.close()
  }
})

it('a client that does not trust the CA is refused at the handshake', async () => {
  await expect(
    connect({ ...authAs('admin'), servers: server.url, timeout: 3_000, maxReconnectAttempts: 0, tls: {} }),
  ).rejects.toThrow(/certificate|self.signed|unable to verify/i)
})

it('a tls:// URL requires TLS: a server that offers none is not connected to in plain text', async () => {
  const plain = await startNatsServer({ websocket: false })
  try {
    await provisionNats([plain.url])
    const settings = (url: string) =>
      loadConfig(v.object(natsSettings), {
        NATS_URL: url,
        NATS_NKEY_SEED: testSecrets().nats.payment.seed,
        NATS_CONNECT_TIMEOUT_MS: '1500',
      })
    const deps = {
      connect,
      logger: createLogger({ service: 'tls-test', level: 'silent' }),
      metrics: createMetrics('tls-test'),
    }
    await expect(
      startNatsRuntime('payment', settings(plain.url.replace(/^nats:/, 'tls:')), deps),
    ).rejects.toThrow(/tls/i)
    // The same server under its nats:// URL: the refusal above was TLS's, not the server's.
    const rt = await startNatsRuntime('payment', settings(plain.url), deps)
    await rt.nc.close()
  } finally {
    await plain.dispose()
  }
}, 30_000)
