import { createClient } from './client.js'

/**
 * Start Cascade for one product on this page: loads the listener in a hidden
 * iframe, takes a referral token off the landing URL, and returns the client.
 * Call it once per page. This is the only call that throws, and only for
 * invalid options (a setup mistake, reason "invalid_option"); after it, every
 * failure goes to `onError`.
 *
 * @param {import('./options.js').InitOptions} options
 * @returns {import('./client.js').CascadeClient}
 * @throws {import('./errors.js').CascadeError} invalid options
 * @example
 * const cascade = Cascade.init({
 *   productId: '0x3c1e…',
 *   backendUrl: 'https://rewards.example',
 *   onError: (reason, error) => console.warn('cascade', reason, error),
 * })
 */
export function init(options) {
  return createClient(options, window)
}
