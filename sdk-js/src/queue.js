import { isObject } from './util.js'

/** Interactions kept while no wallet is connected; the oldest is dropped beyond this. */
export const QUEUE_LIMIT = 50

/**
 * @typedef {object} Item an interaction waiting to be delivered
 * @property {string} key dedup_key, generated once so a retry is never counted twice
 * @property {string} type
 * @property {Record<string, unknown>} data
 * @property {number} at when it was recorded (ms since epoch)
 * @property {number} tries failed deliveries so far
 * @property {number} [next] earliest time of the next attempt (ms since epoch)
 */

/**
 * @typedef {object} ItemSource where items live between page loads
 * @property {() => Item[]} items oldest first
 * @property {(item: Item) => void} update
 * @property {(key: string) => void} remove
 */

/**
 * A stored value is trusted only if it has exactly the item shape: storage can
 * hold anything (old versions, other scripts, hand edits).
 * @param {unknown} value
 * @returns {value is Item}
 */
export const isItem = (value) =>
  isObject(value) &&
  typeof value.key == 'string' &&
  typeof value.type == 'string' &&
  isObject(value.data) &&
  Number.isFinite(value.at) &&
  Number.isInteger(value.tries) &&
  (value.next === undefined || Number.isFinite(value.next))

/**
 * The interaction queue: bounded, persisted under `key`, re-read on every change
 * so two tabs of the same site see each other's items.
 * @param {import('./store.js').Store} store
 * @param {string} key
 * @param {(item: Item) => void} onDrop called for each item pushed out by the bound
 * @param {number} [limit]
 * @returns {ItemSource & { add: (item: Item) => boolean }}
 */
export function createQueue(store, key, onDrop, limit = QUEUE_LIMIT) {
  /** @type {Item[]} the last known list; the truth while storage lags behind */
  let memory = []
  // true while the last write failed: storage then holds less than memory
  let behind = false
  const items = () => {
    const stored = behind ? undefined : store.read(key)
    if (stored !== undefined) memory = Array.isArray(stored) ? stored.filter(isItem) : []
    return memory.slice()
  }
  const save = (list) => {
    memory = list
    behind = !store.write(key, list)
  }
  return {
    items,
    // false when an item with the same dedup key is already waiting
    add(item) {
      const list = items()
      if (list.some((queued) => queued.key == item.key)) return false
      list.push(item)
      const dropped = list.splice(0, Math.max(0, list.length - limit))
      save(list)
      dropped.forEach(onDrop)
      return true
    },
    update: (item) => save(items().map((queued) => (queued.key == item.key ? item : queued))),
    remove: (itemKey) => save(items().filter((queued) => queued.key != itemKey)),
  }
}
