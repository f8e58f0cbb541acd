// autocannon through its API (its CLI parses `[<id>]` in a header as a subarg):
//   node bench/load/autocannon-run.mjs '{"url":...,"connections":64,"duration":6,"body":"...","headers":{...},"idReplacement":false}'
// prints autocannon's result as one JSON line.
import process from 'node:process'
import autocannon from 'autocannon'

const options = JSON.parse(process.argv[2] ?? '{}')
const result = await autocannon({ method: 'POST', ...options })
process.stdout.write(`${JSON.stringify(result)}\n`)
