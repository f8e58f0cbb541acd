/**
 * Meets a value seen on a subscription with whoever waits for it by id,
 * whichever comes first: an order can be settled before its POST's answer
 * has been read.
 */
export function createRendezvous<T>() {
  const waiting = new Map<string, (value: T) => void>()
  const early = new Map<string, T>()
  return {
    /** The value for `id` arrived. */
    settle: (id: string, value: T): void => {
      const resolve = waiting.get(id)
      if (resolve === undefined) early.set(id, value)
      else {
        waiting.delete(id)
        resolve(value)
      }
    },
    /** Resolves with the value for `id`, at once if it arrived already. */
    expect: (id: string): Promise<T> => {
      const seen = early.get(id)
      if (seen !== undefined) {
        early.delete(id)
        return Promise.resolve(seen)
      }
      return new Promise((resolve) => waiting.set(id, resolve))
    },
    /** Ids waited for and not settled yet. */
    outstanding: () => waiting.size,
  }
}
