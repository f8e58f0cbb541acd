// `npm run provision`: the admin step (workers/provision/main.ts) against the
// running npm start (its NATS URL and admin identity from .local/run), or the
// NATS_URL and NATS_NKEY_SEED[_FILE] given in the environment.
import { runProvision } from '../workers/provision/main.ts'
import { operatorEnv } from './start/run-dir.ts'

process.exit(await runProvision(operatorEnv(process.env).env))
