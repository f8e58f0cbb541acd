// The folders of the contract files: generated schemas, frozen published copies, example events.
import { execFileSync } from 'node:child_process'
import { readdirSync, readFileSync } from 'node:fs'
import { basename, join, relative } from 'node:path'

const root = join(import.meta.dirname, '..', '..', 'schemas')

export const SCHEMA_DIRS = {
  generated: join(root, 'json'),
  published: join(root, 'published'),
  examples: join(root, 'examples'),
} as const

/** File name -> text of every `.json` file in `dir` (none when it does not exist). */
export function readJsonFiles(dir: string): Map<string, string> {
  let names: string[]
  try {
    names = readdirSync(dir)
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return new Map()
    throw error
  }
  return new Map(
    names
      .filter((f) => f.endsWith('.json'))
      .sort()
      .map((f) => [f, readFileSync(join(dir, f), 'utf8')]),
  )
}

/**
 * Where `schemas/published/` moved from what git says was published: a file
 * that differs from the commit that first added it, or one ever added and now
 * gone. `undefined` when git cannot tell: not a git checkout, or a shallow
 * clone (its first commit would count as adding every file).
 */
export function frozenProblems(
  published: ReadonlyMap<string, string>,
  publishedDir: string = SCHEMA_DIRS.published,
): string[] | undefined {
  const git = (cwd: string, ...args: string[]) =>
    execFileSync('git', args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] })
  let top: string
  try {
    top = git(publishedDir, 'rev-parse', '--show-toplevel').trim()
    if (git(top, 'rev-parse', '--is-shallow-repository').trim() === 'true') return undefined
  } catch {
    return undefined
  }
  // Paths from the top of the repository, and git run there: the project may
  // be a folder of a larger one.
  const dir = relative(top, publishedDir)
  const problems: string[] = []
  const everAdded = git(top, 'log', '--diff-filter=A', '--name-only', '--format=', '--', dir).split('\n')
  for (const path of new Set(everAdded))
    if (path !== '' && !published.has(basename(path)))
      problems.push(`${path}: published, then removed (a published version stays)`)
  for (const [file, text] of published) {
    const path = relative(top, join(publishedDir, file))
    const added = git(top, 'log', '--diff-filter=A', '--format=%H', '--', path).trim().split('\n').at(-1)
    if (!added) continue // not committed yet: frozen from its first commit on
    if (text !== git(top, 'show', `${added}:${path}`))
      problems.push(
        `${path}: changed after it was published (${added.slice(0, 8)}); publish a new version instead`,
      )
  }
  return problems
}
