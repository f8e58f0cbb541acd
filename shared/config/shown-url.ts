/** A URL as logs and error messages show it: a user or password in it becomes `***`. */
export function shownUrl(url: string): string {
  return url.replace(/^([a-z][a-z0-9+.-]*:\/\/)[^@/?#]*@/i, '$1***@')
}
