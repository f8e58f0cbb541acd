// `--help`/`-h` for the project's commands: the usage on stdout and exit 0,
// before anything else runs (a reset that deletes, a provision that writes).

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
