// compose.lanes.yaml's standard-lane copies are scraped by the observability
// profile's Prometheus: the overlay mounts their targets where the shipped
// prometheus.yml's order-saga job looks for files. Checked against the compose
// files, and by a real Prometheus (Debian's; .ci/run installs it) loading the
// shipped configuration with that file.
import { readFileSync } from 'node:fs'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { basename, dirname, join } from 'node:path'
import { parse } from 'yaml'
import { afterAll, describe, expect, it } from 'vitest'
import type { ServiceHandle } from './harness/process.ts'
import { waitFor } from './harness/wait-for.ts'
import { prometheusAvailable, startPrometheus } from './support/prometheus.ts'

const ROOT = join(import.meta.dirname, '..')
const read = (file: string): unknown =>
  // logLevel: compose's `!reset` tag is compose's own, not YAML's.
  parse(readFileSync(join(ROOT, file), 'utf8'), { merge: true, logLevel: 'error' })

interface ComposeService {
  extends?: { service: string }
  environment?: Record<string, unknown>
  volumes?: string[]
}
const compose = read('compose.yaml') as { services: Record<string, ComposeService> }
const lanes = read('compose.lanes.yaml') as { services: Record<string, ComposeService> }
const prometheusConfig = read('scripts/container/prometheus.yml') as {
  scrape_configs: { job_name: string; file_sd_configs?: { files: string[] }[] }[]
}
const TARGETS_FILE = 'scripts/container/prometheus-lanes.yml'
const targets = read(TARGETS_FILE) as { targets: string[]; labels: Record<string, string> }[]

const sagaJob = prometheusConfig.scrape_configs.find((job) => job.job_name === 'order-saga')
const pattern = sagaJob?.file_sd_configs?.[0]?.files[0] ?? ''

describe('Prometheus and the standard-lane copies', () => {
  it('lists every copy of the overlay, at its port, labelled as its service in the standard lane', () => {
    const copies = Object.entries(lanes.services).filter(([name]) => name.endsWith('-standard'))
    expect(copies.length).toBe(3)
    const expected = copies.map(([name, service]) => {
      const base = service.extends?.service ?? ''
      const declared = compose.services[base]?.environment?.['PORT']
      const port = typeof declared === 'string' || typeof declared === 'number' ? String(declared) : ''
      expect(port).toMatch(/^\d+$/)
      return { targets: [`${name}:${port}`], labels: { service: base, lane: 'standard' } }
    })
    expect(targets).toStrictEqual(expected)
  })

  it('is mounted by the overlay where the order-saga job reads its files', () => {
    // Beside the configuration file: a directory that always exists.
    expect(pattern).toBe('/etc/prometheus/lanes-*.yml')
    const command = (compose.services['prometheus'] as { command?: string[] } | undefined)?.command ?? []
    expect(command).toContain(`--config.file=${dirname(pattern)}/prometheus.yml`)
    const mount = (lanes.services['prometheus']?.volumes ?? []).find((v) =>
      v.startsWith(`./${TARGETS_FILE}:`),
    )
    expect(mount?.split(':')[1]).toBe('/etc/prometheus/lanes-standard.yml')
    // Without the overlay, compose mounts nothing there: the job has its static targets only.
    expect((compose.services['prometheus']?.volumes ?? []).some((v) => v.includes('/lanes-'))).toBe(false)
  })

  describe.skipIf(!prometheusAvailable())('a real Prometheus', () => {
    let dir: string | undefined
    let prometheus: ServiceHandle | undefined
    afterAll(async () => {
      await prometheus?.stop(5_000)
      if (dir !== undefined) await rm(dir, { recursive: true, force: true })
    })

    it('runs without the copies quietly, and discovers them from the shipped configuration once their file is there', async () => {
      dir = await mkdtemp(join(tmpdir(), 'prometheus-lanes-'))
      // The shipped file, its target files moved to this test's directory.
      const shipped = readFileSync(join(ROOT, 'scripts/container/prometheus.yml'), 'utf8')
      expect(shipped).toContain(pattern)
      await writeFile(join(dir, 'prometheus.yml'), shipped.replace(pattern, join(dir, basename(pattern))))
      const started = await startPrometheus(dir)
      prometheus = started.handle
      // Without the overlay's file: started, and no error about the target files.
      expect(
        prometheus.lines().filter((l) => /level=error/i.test(l) && /file|watch|discovery/i.test(l)),
      ).toStrictEqual([])
      await writeFile(join(dir, 'lanes-standard.yml'), readFileSync(join(ROOT, TARGETS_FILE)))
      interface Target {
        labels: Record<string, string>
      }
      const copies = await waitFor(
        async () => {
          const res = await fetch(`${started.url}/api/v1/targets`, {
            signal: AbortSignal.timeout(5_000),
          })
          const body = (await res.json()) as { data: { activeTargets: Target[] } }
          const found = body.data.activeTargets.filter((t) => t.labels['lane'] === 'standard')
          return found.length === 3 ? found : undefined
        },
        { timeoutMs: 20_000, message: 'the three copies among the active targets' },
      )
      expect(
        copies.map((t) => [t.labels['instance'], t.labels['job'], t.labels['service']].join(' ')).sort(),
      ).toStrictEqual([
        'inventory-standard:3001 order-saga inventory',
        'order-status-standard:3004 order-saga order-status',
        'payment-standard:3002 order-saga payment',
      ])
    })
  })
})
