// When a run fails: every process's output (killed ones included) and the
// nats-server logs, written to a folder the report names.
import { mkdir, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { ClusterSagaStack, SagaStack } from '../support/saga-stack.ts'
import type { FaultContext } from './faults.ts'

export async function writeEvidence(
  scenario: string,
  stack: SagaStack | ClusterSagaStack,
  ctx: FaultContext,
  extra: Record<string, string>,
): Promise<string> {
  const dir = join(
    tmpdir(),
    'chaos-evidence',
    `${scenario}-${new Date().toISOString().replace(/[:.]/g, '-')}`,
  )
  await mkdir(dir, { recursive: true })
  const files: [string, string][] = []
  ctx.retired.forEach(({ worker, handle }, i) =>
    files.push([`${worker}.killed-${i}.log`, handle.lines().join('\n')]),
  )
  for (const proc of [...stack.started])
    files.push([`${proc.worker}-${proc.handle.pid}.log`, proc.handle.lines().join('\n')])
  if ('server' in stack) files.push(['nats-server.log', stack.server.log()])
  else for (const node of stack.cluster.nodes) files.push([`${node.name}.log`, node.log()])
  for (const [name, text] of Object.entries(extra)) files.push([name, text])
  await Promise.all(files.map(([name, text]) => writeFile(join(dir, name), text)))
  return dir
}
