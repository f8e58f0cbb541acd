/**
 * A `Map` used as a bounded memory of the most recent keys: `key` is set as
 * the newest entry (moved to the end if it was there), and past `max` entries
 * the oldest goes. Returns the entry that went, if one did.
 *
 * Insertion order is the age: a `Map` iterates its keys in the order they
 * were set, so the first key is the one least recently remembered.
 */
export function rememberRecent<K, V>(map: Map<K, V>, key: K, value: V, max: number): [K, V] | undefined {
  map.delete(key)
  map.set(key, value)
  if (map.size <= max) return undefined
  const oldest = map.entries().next()
  if (oldest.done === true) return undefined
  map.delete(oldest.value[0])
  return oldest.value
}
