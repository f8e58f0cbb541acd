// docs/configuration.md says compose.yaml passes every service variable
// through when it is set: each variable documented for a service is in that
// service's environment (or its `_FILE` twin, for a secret).
import { readFileSync } from 'node:fs'
import { parse } from 'yaml'
import { describe, expect, it } from 'vitest'

const root = new URL('../', import.meta.url)
const compose = parse(readFileSync(new URL('compose.yaml', root), 'utf8'), { merge: true }) as {
  services: Record<string, { environment?: Record<string, unknown> }>
}
const docs = ['configuration.md', 'console.md']
  .map((file) => readFileSync(new URL(`docs/${file}`, root), 'utf8'))
  .join('\n')

const NATS_WORKERS = ['order', 'order-status', 'inventory', 'payment', 'analytics', 'console']
/** A section of docs/configuration.md (its heading's start) and the compose services it is about. */
const SECTIONS: Record<string, readonly string[]> = {
  'NATS settings': NATS_WORKERS,
  'order (': ['order'],
  'inventory (': ['inventory'],
  'analytics (': ['analytics'],
  // docs/console.md's own table; configuration.md names them in prose.
  Settings: ['console'],
  'payment (': ['payment'],
  'gateway sandbox': ['gateway'],
  'nats-metrics': ['nats-metrics'],
  Tracing: [...NATS_WORKERS, 'gateway'],
  // Prose, not a table: every variable it names.
  'provision (': ['provision'],
}
/** Sections that name their variables in prose: every line counts, not only table rows. */
const PROSE = ['provision (']
/** Set by the compose file itself, for every container alike. */
const FIXED = new Set(['PORT', 'HOST', 'NATS_URL', 'NATS_TLS_CA_FILE', 'NATS_MONITOR_URLS'])

/** The variables of each section's tables: the first column's names. */
function documented(): { section: string; variable: string }[] {
  const found: { section: string; variable: string }[] = []
  let section = ''
  for (const line of docs.split('\n')) {
    if (line.startsWith('## ')) section = line.slice(3)
    const prose = PROSE.some((heading) => section.startsWith(heading)) && !line.startsWith('## ')
    const cell = prose ? line : (/^\| ([^|]+)\|/.exec(line)?.[1] ?? '')
    for (const [, variable] of cell.matchAll(/`([A-Z][A-Z0-9_]+)`/g))
      if (variable !== undefined) found.push({ section, variable })
  }
  return found
}

describe('compose.yaml passes the documented settings through', () => {
  const rows = documented()
  it.each(Object.entries(SECTIONS))('%s', (heading, services) => {
    const variables = rows.filter((r) => r.section.startsWith(heading)).map((r) => r.variable)
    expect(variables.length, `variables under "${heading}"`).toBeGreaterThan(0)
    const missing = services.flatMap((service) => {
      const env = compose.services[service]?.environment ?? {}
      return variables
        .filter((name) => !FIXED.has(name) && !(name in env) && !(`${name}_FILE` in env))
        .map((name) => `${service}: ${name}`)
    })
    expect(missing).toStrictEqual([])
  })
})
