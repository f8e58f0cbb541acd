// Analytics worker on Bun or Node: `bun run workers/analytics/main.ts [--from <ISO time>]`.
import { runAnalytics } from './entry.ts'

runAnalytics(process.argv.slice(2), process.env)
