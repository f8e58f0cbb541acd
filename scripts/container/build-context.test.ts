// The image build context (.dockerignore) carries exactly the production
// dependencies the lockfile lists: one missing breaks the image build, one too
// many (a dev tool) bloats every build's context.
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'

const ROOT = join(import.meta.dirname, '..', '..')

interface LockEntry {
  dev?: boolean
  devOptional?: boolean
  peer?: boolean
}

/** Top-level package folders of the lockfile's production dependencies. */
async function productionPackages(): Promise<string[]> {
  const lock = JSON.parse(await readFile(join(ROOT, 'package-lock.json'), 'utf8')) as {
    packages: Record<string, LockEntry>
  }
  const folders = Object.entries(lock.packages)
    .filter(
      ([path, entry]) => path.startsWith('node_modules/') && !entry.dev && !entry.devOptional && !entry.peer,
    )
    .map(([path]) => {
      const parts = path.split('/node_modules/')[0]?.split('/') ?? []
      return parts.slice(0, parts[1]?.startsWith('@') ? 3 : 2).join('/')
    })
  return [...new Set(folders)].sort()
}

describe('image build context', () => {
  it('re-includes every production dependency of the lockfile, and nothing else, from node_modules', async () => {
    const ignore = await readFile(join(ROOT, '.dockerignore'), 'utf8')
    const included = ignore
      .split('\n')
      .filter((line) => line.startsWith('!node_modules/'))
      .map((line) => line.slice(1).replace(/\/$/, ''))
      .sort()
    expect(included).toStrictEqual(await productionPackages())
  })

  it('keeps everything else out but the sources the build reads', async () => {
    const lines = (await readFile(join(ROOT, '.dockerignore'), 'utf8'))
      .split('\n')
      .filter((l) => l !== '' && !l.startsWith('#'))
    expect(lines[0]).toBe('*')
    expect(lines.filter((l) => l.startsWith('!') && !l.startsWith('!node_modules/'))).toStrictEqual([
      '!package.json',
      '!package-lock.json',
      '!bunfig.toml',
      '!tsconfig.json',
      '!schemas/',
      '!shared/',
      '!workers/',
      '!scripts/build.ts',
      '!scripts/lib/help.ts',
      '!scripts/nats/nats-server.conf',
      '!.local/nats-server/usr/sbin/nats-server',
    ])
  })
})
