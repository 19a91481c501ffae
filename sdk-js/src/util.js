/** Small helpers shared by the SDK and the listener. */

/**
 * @param {unknown} value
 * @returns {value is Record<string, any>} a plain object (not null, not an array)
 */
export const isObject = (value) =>
  value !== null && typeof value === 'object' && !Array.isArray(value)

/** @returns {string} 24 random hex characters (message ids, dedup keys) */
export function randomId() {
  const bytes = crypto.getRandomValues(new Uint8Array(12))
  return Array.from(bytes, (byte) => byte.toString(16).padStart(2, '0')).join('')
}

/**
 * Copy only the named fields, so nothing unexpected travels further.
 * @param {Record<string, any>} source
 * @param {string[]} names
 * @returns {Record<string, any>}
 */
export const pick = (source, names) => Object.fromEntries(names.map((name) => [name, source[name]]))
