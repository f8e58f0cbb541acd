// Every port npm start will bind, checked before anything starts.
import { createServer } from 'node:net'
import type { PortSetting } from './options.ts'

/**
 * Whether `host:port` can be bound now (listened on and closed again at
 * once): `true`, `false` when the port is taken, or the error when the host
 * itself cannot be listened on (a mistyped HOST, an address not on this machine).
 */
export function portFree(host: string, port: number): Promise<boolean | Error> {
  return new Promise((done) => {
    const server = createServer()
    server.once('error', (error: NodeJS.ErrnoException) =>
      done(error.code === 'EADDRINUSE' || error.code === 'EACCES' ? false : error),
    )
    server.listen({ host, port, exclusive: true }, () => server.close(() => done(true)))
  })
}

export interface PortCheck {
  what: string
  host: string
  setting: PortSetting
}

export interface PortPlan {
  /** One line per port that cannot be had: it names the port and the variable that moves it. */
  problems: string[]
  /** Settings whose port was busy and that may take any free port instead, with the line saying so. */
  fallbacks: { check: PortCheck; note: string }[]
}

/**
 * Checks each port; a busy one is a problem naming the port and its variable,
 * unless its variable is unset and it may fall back (nats-server then takes a
 * free port, which stack.json and the banner report).
 */
export async function checkPorts(checks: readonly PortCheck[]): Promise<PortPlan> {
  const plan: PortPlan = { problems: [], fallbacks: [] }
  const seen = new Map<number, PortCheck>()
  const badHosts = new Set<string>()
  for (const check of checks) {
    const { port, variable, mayFallBack } = check.setting
    const twice = seen.get(port)
    seen.set(port, check)
    if (twice !== undefined) {
      plan.problems.push(
        `port ${port} is asked for twice (${twice.setting.variable} and ${variable}): set one of them to another port`,
      )
      continue
    }
    const free = await portFree(check.host, port)
    if (free === true) continue
    if (free instanceof Error) {
      // One line per host: every service listens on it.
      if (!badHosts.has(check.host))
        plan.problems.push(
          `cannot listen on ${check.host} (${check.host === '127.0.0.1' ? check.what : 'HOST'}): ${free.message}`,
        )
      badHosts.add(check.host)
      continue
    }
    if (mayFallBack)
      plan.fallbacks.push({
        check,
        note: `port ${port} (${check.what}) is in use: taking a free port instead (set ${variable} to choose one)`,
      })
    else
      plan.problems.push(
        `port ${port} is in use (${variable}, ${check.what}): another npm start may be running; stop it or set ${variable}`,
      )
  }
  return plan
}
