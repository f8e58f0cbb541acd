// docs/security.md carries the permission table generated from the access table.
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { format, resolveConfig } from 'prettier'
import { expect, it } from 'vitest'
import { withPermissionTable } from '../shared/security/permission-table.ts'

it('docs/security.md has the permission table of the current access table (npm run docs:security)', async () => {
  const file = join(import.meta.dirname, '..', 'docs', 'security.md')
  const doc = readFileSync(file, 'utf8')
  const options = { ...((await resolveConfig(file)) ?? {}), filepath: file }
  expect(doc).toBe(await format(withPermissionTable(doc), options))
})
