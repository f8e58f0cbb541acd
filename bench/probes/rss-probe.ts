// BENCH ONLY: what one library adds to the idle RSS of a compiled Bun binary.
// One binary; PROBE picks what is loaded (dynamic imports are evaluated only
// when reached), then it idles behind Bun.serve like a worker.
//   PROBE=prom-client|prom-client-index|pino|hono|valibot|nats|none PORT=0 NATS_URL=... NATS_NKEY_SEED=SU... ./rss-probe
// (NATS_NKEY_SEED: an identity that may create a KV bucket, the bench gives the admin's.)
const probe = process.env['PROBE'] ?? 'none'
const keep: unknown[] = []

switch (probe) {
  case 'prom-client':
  case 'prom-client-index': {
    // 'prom-client' as the workers load it (shared/observability/prom.ts: its
    // lib/ files); '-index' through its index, which also loads the
    // Pushgateway and cluster code.
    const { collectDefaultMetrics, Registry } =
      probe === 'prom-client'
        ? await import('../../shared/observability/prom.ts')
        : await import('prom-client')
    const register = new Registry()
    collectDefaultMetrics({ register })
    keep.push(register)
    break
  }
  case 'pino': {
    const { pino } = await import('pino')
    const logger = pino({ level: 'info' })
    logger.info('probe')
    keep.push(logger)
    break
  }
  case 'hono': {
    const { Hono } = await import('hono')
    keep.push(new Hono().get('/', (c) => c.text('ok')))
    break
  }
  case 'valibot': {
    const v = await import('valibot')
    const { CreateOrderRequestV1 } = await import('../../schemas/order-request.ts')
    keep.push(
      v.safeParse(CreateOrderRequestV1, {
        customerId: 'c',
        items: [{ sku: 'A', quantity: 1 }],
        paymentToken: 't',
      }),
    )
    break
  }
  case 'nats': {
    const { connect } = await import('@nats-io/transport-node')
    const { nkeyAuthenticator } = await import('@nats-io/nats-core')
    const { jetstream, jetstreamManager } = await import('@nats-io/jetstream')
    const { Kvm } = await import('@nats-io/kv')
    const seed = process.env['NATS_NKEY_SEED']
    const nc = await connect({
      servers: process.env['NATS_URL'] ?? 'nats://127.0.0.1:4222',
      name: 'rss-probe',
      ...(seed === undefined ? {} : { authenticator: nkeyAuthenticator(new TextEncoder().encode(seed)) }),
    })
    keep.push(await jetstreamManager(nc), jetstream(nc), await new Kvm(nc).create('rss-probe'))
    break
  }
  default:
    break
}

Bun.serve({
  hostname: '127.0.0.1',
  port: Number(process.env['PORT'] ?? 0),
  fetch: () => new Response(`ok ${keep.length}`),
})

export {}
