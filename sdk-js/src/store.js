import { CascadeError } from './errors.js'

/**
 * @typedef {object} Store JSON values in a Storage; `undefined` means "storage failed"
 * @property {(key: string) => any} read null when absent, undefined when unreadable or corrupt
 * @property {(key: string, value: unknown) => boolean | undefined} write true once written
 * @property {(key: string) => void} remove
 */

/**
 * Wrap a Storage so that unavailability (private mode, sandboxed frames), a full
 * quota or corrupt JSON never escape: they are reported once, and callers fall
 * back to memory.
 * @param {Pick<Storage, 'getItem' | 'setItem' | 'removeItem'> | null | undefined} storage
 * @param {(error: CascadeError) => void} report
 * @returns {Store}
 */
export function createStore(storage, report) {
  let reported = false
  const attempt = (work) => {
    if (!storage) return undefined
    try {
      return work(storage)
    } catch (error) {
      if (!reported) report(new CascadeError('storage_error', 'storage unavailable', error))
      reported = true
    }
  }
  return {
    read: (key) =>
      attempt((s) => {
        const raw = s.getItem(key)
        return raw == null ? null : JSON.parse(raw)
      }),
    write: (key, value) => attempt((s) => (s.setItem(key, JSON.stringify(value)), true)),
    remove: (key) => attempt((s) => s.removeItem(key)),
  }
}
