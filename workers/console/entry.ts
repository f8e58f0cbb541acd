// The operator console as a runnable entry (config, start); `main.ts` runs it, the
// multi-call binary can dispatch to it.
import { connect } from '@nats-io/transport-node'
import type { ServiceEntry } from '../../shared/runtime/run-service.ts'
import { ConsoleConfigSchema, loadConsoleConfig, type ConsoleConfig } from './config.ts'
import { startConsoleService } from './service.ts'

export const consoleEntry: ServiceEntry<ConsoleConfig> = {
  name: 'console',
  description: 'operator console: GET /console (admin API key); keeps the order index',
  schema: ConsoleConfigSchema,
  loadConfig: loadConsoleConfig,
  start: (config, deps) => startConsoleService(config, { ...deps, connect }),
}
