// `--help`/`-h` for the project's commands: the usage on stdout and exit 0,
// before anything else runs (a reset that deletes, a provision that writes).
import { parseArgs } from 'node:util'

/** True when the arguments ask for help. */
export const asksForHelp = (argv: readonly string[]): boolean =>
  argv.some((a) => a === '--help' || a === '-h')

/**
 * Prints `usage` and ends the process when `argv` asks for help (exit 0) or
 * holds anything this command does not take (exit 1, naming it); otherwise
 * returns and the command runs.
 */
export function handleHelp(argv: readonly string[], usage: string, { takesArguments = false } = {}): void {
  if (asksForHelp(argv)) {
    process.stdout.write(`${usage}\n`)
    process.exit(0)
  }
  if (!takesArguments && argv.length > 0) {
    process.stderr.write(`unexpected argument ${JSON.stringify(argv[0])}\n${usage}\n`)
    process.exit(1)
  }
}

/**
 * `--help`, then the one option a build script takes, `--outdir <dir>`
 * (default `fallback`); anything else ends the process with the usage (exit 1).
 */
export function outdirOption(argv: readonly string[], usage: string, fallback: string): string {
  handleHelp(argv, usage, { takesArguments: true })
  try {
    return parseArgs({ args: [...argv], options: { outdir: { type: 'string', default: fallback } } }).values
      .outdir
  } catch (error) {
    process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n${usage}\n`)
    process.exit(1)
  }
}
