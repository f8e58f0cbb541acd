// Every port npm start will bind, checked before anything starts.
import { createServer } from 'node:net'
import type { PortSetting } from './options.ts'

/** Whether `host:port` can be bound now (listened on and closed again at once). */
export function portFree(host: string, port: number): Promise<boolean> {
  return new Promise((done) => {
    const server = createServer()
    server.once('error', () => done(false))
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
    if (await portFree(check.host, port)) continue
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
