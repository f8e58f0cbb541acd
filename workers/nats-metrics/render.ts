/*
 * nats-server's monitoring JSON (/varz, /jsz) as Prometheus text, named like
 * prometheus-nats-exporter's metrics (`gnatsd_varz_*`, `jetstream_*`) so its
 * queries and dashboards read them. Pure: the fetching is in service.ts.
 */

/** The /varz fields read. */
export interface Varz {
  server_name: string
  version: string
  connections: number
  total_connections: number
  subscriptions: number
  slow_consumers: number
  in_msgs: number
  out_msgs: number
  in_bytes: number
  out_bytes: number
  mem: number
  cpu: number
}

interface ConsumerDetail {
  name: string
  num_pending: number
  num_ack_pending: number
  num_redelivered: number
  num_waiting: number
}

interface StreamDetail {
  name: string
  cluster?: { leader?: string }
  state: { messages: number; bytes: number; consumer_count: number }
  consumer_detail?: ConsumerDetail[]
}

/** The /jsz?accounts=true&streams=true&consumers=true&leader_only=true fields read. */
export interface Jsz {
  memory: number
  storage: number
  streams: number
  consumers: number
  messages: number
  bytes: number
  api: { total: number; errors: number }
  account_details?: { name: string; stream_detail?: StreamDetail[] }[]
}

/** One server's answers; `undefined` where it did not answer in time. */
export interface NodeSample {
  url: string
  varz: Varz | undefined
  jsz: Jsz | undefined
}

type Labels = Record<string, string>

interface Family {
  name: string
  help: string
  type: 'gauge' | 'counter'
  samples: { labels: Labels; value: number }[]
}

const escape = (value: string): string =>
  value.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n')

function renderFamilies(families: readonly Family[]): string {
  const lines: string[] = []
  for (const f of families) {
    if (f.samples.length === 0) continue
    lines.push(`# HELP ${f.name} ${f.help}`, `# TYPE ${f.name} ${f.type}`)
    for (const { labels, value } of f.samples) {
      const text = Object.entries(labels)
        .map(([k, v]) => `${k}="${escape(v)}"`)
        .join(',')
      lines.push(`${f.name}{${text}} ${value}`)
    }
  }
  return `${lines.join('\n')}\n`
}

const VARZ: [keyof Varz, string, Family['type'], string][] = [
  ['connections', 'gnatsd_varz_connections', 'gauge', 'Client connections now'],
  ['total_connections', 'gnatsd_varz_total_connections', 'counter', 'Client connections since start'],
  ['subscriptions', 'gnatsd_varz_subscriptions', 'gauge', 'Subscriptions now'],
  ['slow_consumers', 'gnatsd_varz_slow_consumers', 'counter', 'Clients disconnected as slow consumers'],
  ['in_msgs', 'gnatsd_varz_in_msgs', 'counter', 'Messages received'],
  ['out_msgs', 'gnatsd_varz_out_msgs', 'counter', 'Messages sent'],
  ['in_bytes', 'gnatsd_varz_in_bytes', 'counter', 'Bytes received'],
  ['out_bytes', 'gnatsd_varz_out_bytes', 'counter', 'Bytes sent'],
  ['mem', 'gnatsd_varz_mem', 'gauge', 'Resident memory in bytes'],
  ['cpu', 'gnatsd_varz_cpu', 'gauge', 'CPU use in percent'],
]

const JSZ: [keyof Jsz, string, string][] = [
  ['memory', 'jetstream_server_total_memory_bytes', 'JetStream memory storage used'],
  ['storage', 'jetstream_server_total_storage_bytes', 'JetStream file storage used'],
  ['streams', 'jetstream_server_total_streams', 'Streams on this server'],
  ['consumers', 'jetstream_server_total_consumers', 'Consumers on this server'],
  ['messages', 'jetstream_server_total_messages', 'Messages stored on this server'],
]

/**
 * Every server's figures, labelled with `server_name`; streams and consumers
 * from the leader of each (jsz `leader_only`), so a replicated stream is
 * counted once. `nats_server_up` is 0 for a server that did not answer.
 */
export function renderNatsMetrics(nodes: readonly NodeSample[]): string {
  const family = (name: string, help: string, type: Family['type'] = 'gauge'): Family => ({
    name,
    help,
    type,
    samples: [],
  })
  const up = family('nats_server_up', '1 when the server answered its monitoring endpoint in this scrape')
  const info = family('nats_server_info', 'The server and its version (always 1)')
  const varz = VARZ.map(([, name, type, help]) => family(name, help, type))
  const jsz = JSZ.map(([, name, help]) => family(name, help))
  const apiTotal = family('jetstream_server_api_requests', 'JetStream API requests served', 'counter')
  const apiErrors = family('jetstream_server_api_errors', 'JetStream API requests that failed', 'counter')
  const streamMessages = family('jetstream_stream_total_messages', 'Messages in the stream')
  const streamBytes = family('jetstream_stream_total_bytes', 'Bytes in the stream')
  const streamConsumers = family('jetstream_stream_consumer_count', 'Consumers of the stream')
  const pending = family('jetstream_consumer_num_pending', 'Messages the consumer has not delivered yet')
  const ackPending = family('jetstream_consumer_num_ack_pending', 'Messages delivered and not acknowledged')
  const redelivered = family(
    'jetstream_consumer_num_redelivered',
    'Messages redelivered, not yet acknowledged',
  )
  const waiting = family('jetstream_consumer_num_waiting', 'Pull requests waiting')

  for (const node of nodes) {
    const server = node.varz?.server_name ?? node.url
    up.samples.push({
      labels: { server_name: server, url: node.url },
      value: node.varz === undefined ? 0 : 1,
    })
    if (node.varz !== undefined) {
      const v = node.varz
      info.samples.push({ labels: { server_name: server, version: v.version }, value: 1 })
      VARZ.forEach(([key], i) =>
        varz[i]?.samples.push({ labels: { server_name: server }, value: Number(v[key]) }),
      )
    }
    if (node.jsz === undefined) continue
    const j = node.jsz
    JSZ.forEach(([key], i) =>
      jsz[i]?.samples.push({ labels: { server_name: server }, value: Number(j[key]) }),
    )
    apiTotal.samples.push({ labels: { server_name: server }, value: j.api.total })
    apiErrors.samples.push({ labels: { server_name: server }, value: j.api.errors })
    for (const account of j.account_details ?? []) {
      for (const stream of account.stream_detail ?? []) {
        const labels = { server_name: server, account: account.name, stream_name: stream.name }
        streamMessages.samples.push({ labels, value: stream.state.messages })
        streamBytes.samples.push({ labels, value: stream.state.bytes })
        streamConsumers.samples.push({ labels, value: stream.state.consumer_count })
        for (const c of stream.consumer_detail ?? []) {
          const consumer = { ...labels, consumer_name: c.name }
          pending.samples.push({ labels: consumer, value: c.num_pending })
          ackPending.samples.push({ labels: consumer, value: c.num_ack_pending })
          redelivered.samples.push({ labels: consumer, value: c.num_redelivered })
          waiting.samples.push({ labels: consumer, value: c.num_waiting })
        }
      }
    }
  }
  return renderFamilies([
    up,
    info,
    ...varz,
    ...jsz,
    apiTotal,
    apiErrors,
    streamMessages,
    streamBytes,
    streamConsumers,
    pending,
    ackPending,
    redelivered,
    waiting,
  ])
}
