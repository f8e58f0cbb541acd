// The folders of the contract files: generated schemas, frozen published copies, example events.
import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'

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
