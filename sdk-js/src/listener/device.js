/**
 * A random id for this browser, kept in the listener origin's own storage and sent with
 * each interaction (header `cascade-device-id`). The backend keeps only a keyed hash of it,
 * to tell one device from many (docs/fraud.md); it identifies no person.
 */
import { randomId } from '../util.js'

const KEY = 'cascade.device'

/**
 * @param {Pick<Storage, 'getItem' | 'setItem'> | null} storage
 * @returns {string | null} the stored id (made on first use), or null without storage
 */
export function deviceId(storage) {
  try {
    let id = storage?.getItem(KEY)
    if (!id || !/^[0-9a-f]{24}$/.test(id)) {
      if (!storage) return null
      id = randomId()
      storage.setItem(KEY, id)
    }
    return id
  } catch {
    return null // storage blocked or full: no device id rather than a failure
  }
}
