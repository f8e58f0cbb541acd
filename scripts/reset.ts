// `npm run reset`: removes the local stack's saved state (.local/run, or
// $ORDER_SAGA_STATE_DIR): streams, KV, the env file and the dev keys. Refuses
// while an npm start runs from it (or processes it started are still alive).
import { handleHelp } from './lib/help.ts'
import { shown } from './start/banner.ts'
import { stateDir, wipeStateDir } from './start/run-dir.ts'

handleHelp(
  process.argv.slice(2),
  `usage: npm run reset
  removes the local stack's saved state (streams, KV, the env file, the development keys);
  refuses while an npm start runs from it
environment: ORDER_SAGA_STATE_DIR (default .local/run)`,
)

const dir = stateDir(process.env)
try {
  const outcome = wipeStateDir(dir)
  console.log(
    outcome === 'wiped' ? `removed ${shown(dir)}` : `${shown(dir)} does not exist: nothing to reset`,
  )
} catch (error) {
  console.error(`reset: ${error instanceof Error ? error.message : String(error)}`)
  process.exitCode = 1
}
