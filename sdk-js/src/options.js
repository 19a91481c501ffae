import { CascadeError } from './errors.js'
import { isObject } from './util.js'

/** Every option `init` accepts; anything else is a typo and refused. */
export const OPTION_NAMES = ['productId', 'backendUrl', 'onError', 'storage']

const PRODUCT_ID = /^0x[0-9a-f]{64}$/i
// Plain http is only for a backend on this machine (development, tests).
const LOOPBACK = /^(localhost|127\.0\.0\.1|\[::1\])$/

/**
 * @typedef {object} InitOptions
 * @property {string} productId the product's id: 0x and 64 hex digits
 * @property {string} backendUrl where the Cascade backend is served, e.g. "https://rewards.example"
 * @property {(reason: string, error: import('./errors.js').CascadeError) => void} [onError]
 *   told about every failure; the SDK itself never throws after `init`
 * @property {Pick<Storage, 'getItem' | 'setItem' | 'removeItem'> | null} [storage]
 *   where the queue and the referral token persist (default `localStorage`; `null` keeps them in memory)
 */

/**
 * @typedef {object} Settings validated options, normalised
 * @property {string} productId lower-case
 * @property {string} backendUrl origin + path, no trailing slash
 * @property {string} origin the backend's origin, the only one the SDK accepts messages from
 * @property {InitOptions['onError']} onError
 * @property {InitOptions['storage'] | undefined} storage
 */

/**
 * Check `init` options; configuration mistakes fail loudly and at once.
 * @param {unknown} options
 * @returns {Settings}
 * @throws {CascadeError} reason "invalid_option"
 */
export function readOptions(options) {
  const fail = (message, cause) => {
    throw new CascadeError('invalid_option', message, cause)
  }
  if (!isObject(options)) fail('options: not an object')
  for (const name of Object.keys(options)) {
    if (!OPTION_NAMES.includes(name)) fail(`${name}: unknown option`)
  }
  const { productId, backendUrl, onError, storage } = options
  if (typeof productId != 'string' || !PRODUCT_ID.test(productId)) {
    fail('productId: not 0x + 64 hex digits')
  }
  let url
  try {
    url = new URL(backendUrl)
  } catch (error) {
    fail('backendUrl: not an absolute URL', error)
  }
  if (url.protocol != 'https:' && !(url.protocol == 'http:' && LOOPBACK.test(url.hostname))) {
    fail('backendUrl: not https')
  }
  if (url.username || url.password || url.search || url.hash) {
    fail('backendUrl: has credentials, query or hash')
  }
  if (onError !== undefined && typeof onError != 'function') fail('onError: not a function')
  if (
    storage != null &&
    !['getItem', 'setItem', 'removeItem'].every((method) => typeof storage[method] == 'function')
  ) {
    fail('storage: not a Storage')
  }
  return {
    productId: productId.toLowerCase(),
    backendUrl: url.origin + url.pathname.replace(/\/+$/, ''),
    origin: url.origin,
    onError,
    storage,
  }
}
