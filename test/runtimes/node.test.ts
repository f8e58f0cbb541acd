// Every worker on Node 20 from the bundles `npm run build:node` makes (Node 20 cannot run .ts).
import { runtimeCommand, runBunScript, scratchDir } from './commands.ts'
import { describeOrderRuntime, processTarget } from './order-suite.ts'
import { startRuntimeStack } from './runtime-stack.ts'

describeOrderRuntime(`Node ${process.versions.node}`, async () => {
  const dist = await scratchDir('node')
  try {
    await runBunScript('build-node.ts', ['--outdir', dist.path])
    const target = processTarget(await startRuntimeStack({ command: runtimeCommand('node', dist.path) }))
    return { ...target, dispose: () => target.dispose().finally(dist.remove) }
  } catch (error) {
    await dist.remove()
    throw error
  }
})
