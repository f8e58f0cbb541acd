/**
 * The fields of a `/proc/<pid>[/task/<tid>]/stat` line after the command
 * name, which may hold spaces and parentheses: `[0]` is the state, `[1]` the
 * parent's id, and proc(5)'s field n is `[n - 3]` (utime `[11]`, stime
 * `[12]`, policy `[38]`).
 */
export function statFieldsAfterName(stat: string): string[] {
  return stat.slice(stat.lastIndexOf(')') + 2).split(' ')
}
