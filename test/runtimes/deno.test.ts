// Every worker on Deno 2 from the TypeScript sources; the order service through
// its Deno entry on NATS over WebSocket, the others over TCP.
import { runtimeCommand } from './commands.ts'
import { describeOrderRuntime, processTarget } from './order-suite.ts'
import { startRuntimeStack } from './runtime-stack.ts'

describeOrderRuntime('Deno 2', async () =>
  processTarget(
    await startRuntimeStack({
      command: runtimeCommand('deno'),
      envFor: (worker, server) =>
        worker === 'order' && server.wsUrl !== undefined ? { NATS_URL: server.wsUrl } : {},
    }),
  ),
)
