/**
 * An open/closed switch that work can wait on: the payment consumer waits on
 * one that closes while the gateway's circuit breaker is open.
 */
export interface Gate {
  isOpen: () => boolean
  /** Resolves when the gate is (or next becomes) open. */
  whenOpen: () => Promise<void>
  open: () => void
  close: () => void
}

export function createGate(initiallyOpen = true): Gate {
  let open = initiallyOpen
  let waiters: (() => void)[] = []
  return {
    isOpen: () => open,
    whenOpen: () => (open ? Promise.resolve() : new Promise<void>((resolve) => waiters.push(resolve))),
    open: () => {
      open = true
      const ready = waiters
      waiters = []
      for (const resolve of ready) resolve()
    },
    close: () => {
      open = false
    },
  }
}
