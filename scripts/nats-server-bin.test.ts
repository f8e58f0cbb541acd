// The resolver against fake `nats-server` scripts that print a version, as the
// real binary does (`nats-server: v2.10.27`).
import { chmod, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { MIN_NATS_SERVER_VERSION } from '../shared/nats/server-version.ts'
import {
  NatsServerBinUnusableError,
  NatsServerNotFoundError,
  projectNatsServerPath,
  resolveNatsServer,
} from './nats-server-bin.ts'

let dir: string
/** A folder holding an executable `nats-server` that reports `version`. */
async function fakeServerDir(name: string, version: string): Promise<string> {
  const folder = join(dir, name)
  await mkdir(folder, { recursive: true })
  const file = join(folder, 'nats-server')
  await writeFile(file, `#!/bin/sh\necho "nats-server: v${version}"\n`)
  await chmod(file, 0o755)
  return folder
}

let oldOnPath: string
let newOnPath: string
let emptyRoot: string
let rootWithNew: string

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'nats-server-bin-'))
  oldOnPath = await fakeServerDir('path-old', '2.10.27')
  newOnPath = await fakeServerDir('path-new', '2.15.1')
  emptyRoot = join(dir, 'empty-root')
  await mkdir(emptyRoot)
  rootWithNew = join(dir, 'root-new')
  await fakeServerDir(join('root-new', '.local', 'nats-server', 'usr', 'sbin'), '2.12.0')
})
afterAll(() => rm(dir, { recursive: true, force: true }))

describe('resolveNatsServer', () => {
  it('refuses a too-old server on PATH, naming the version found and the one needed', async () => {
    const failure = await resolveNatsServer({ env: { PATH: oldOnPath }, root: emptyRoot }).catch(
      (err: unknown) => err,
    )
    expect(failure).toBeInstanceOf(NatsServerNotFoundError)
    const { message, candidates } = failure as NatsServerNotFoundError
    expect(message).toContain(`No nats-server >= ${MIN_NATS_SERVER_VERSION} found`)
    expect(message).toContain(`PATH: ${join(oldOnPath, 'nats-server')} v2.10.27 (too old: needs >= 2.12.0)`)
    expect(candidates.map((c) => [c.source, c.status, c.version])).toStrictEqual([
      ['NATS_SERVER_BIN', 'not set', undefined],
      ['PATH', 'too old', '2.10.27'],
      ['project', 'not found', undefined],
    ])
  })

  it('passes over a too-old server on PATH for a project copy that is new enough', async () => {
    const found = await resolveNatsServer({ env: { PATH: oldOnPath }, root: rootWithNew })
    expect(found).toStrictEqual({
      bin: projectNatsServerPath(rootWithNew),
      version: '2.12.0',
      source: 'project',
    })
  })

  it('fails on an explicitly set NATS_SERVER_BIN that is too old instead of taking the next candidate', async () => {
    const bin = join(oldOnPath, 'nats-server')
    const failure = await resolveNatsServer({
      env: { NATS_SERVER_BIN: bin, PATH: newOnPath },
      root: rootWithNew,
    }).catch((err: unknown) => err)
    expect(failure).toBeInstanceOf(NatsServerBinUnusableError)
    const { message, candidate } = failure as NatsServerBinUnusableError
    expect(message).toContain(`NATS_SERVER_BIN=${bin} is nats-server v2.10.27`)
    expect(message).toContain('too old: needs >= 2.12.0')
    expect(message).toContain('This project needs nats-server >= 2.12.0')
    expect(candidate).toMatchObject({ source: 'NATS_SERVER_BIN', status: 'too old', version: '2.10.27' })
  })

  it('fails on an explicitly set NATS_SERVER_BIN that does not exist', async () => {
    const bin = join(dir, 'nowhere', 'nats-server')
    await expect(
      resolveNatsServer({ env: { NATS_SERVER_BIN: bin, PATH: newOnPath }, root: rootWithNew }),
    ).rejects.toThrow(new NatsServerBinUnusableError({ source: 'NATS_SERVER_BIN', bin, status: 'not found' }))
  })

  it('uses NATS_SERVER_BIN when it is new enough, before PATH and the project copy', async () => {
    const bin = join(newOnPath, 'nats-server')
    const found = await resolveNatsServer({
      env: { NATS_SERVER_BIN: bin, PATH: oldOnPath },
      root: rootWithNew,
    })
    expect(found).toStrictEqual({ bin, version: '2.15.1', source: 'NATS_SERVER_BIN' })
  })

  it('takes a new-enough server on PATH before the project copy', async () => {
    const found = await resolveNatsServer({
      env: { PATH: newOnPath, NATS_SERVER_BIN: '' },
      root: rootWithNew,
    })
    expect(found).toStrictEqual({ bin: join(newOnPath, 'nats-server'), version: '2.15.1', source: 'PATH' })
  })
})
