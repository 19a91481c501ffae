/**
 * Every reason `onError` can receive; README.md documents each (a test checks).
 * Documentation only: nothing at runtime reads this list.
 */
export const REASONS = [
  'invalid_option',
  'invalid_argument',
  'invalid_referral',
  'queue_full',
  'storage_error',
  'listener_unavailable',
  'rejected',
  'retries_exhausted',
  'expired',
  'not_connected',
  'request_failed',
  'callback_failed',
]

/**
 * The one error type the SDK hands out: a short message, a machine-readable
 * `reason` (the same string `onError` receives) and the underlying `cause`.
 */
export class CascadeError extends Error {
  /**
   * @param {string} reason machine-readable, e.g. "queue_full"
   * @param {string} message short and human-readable
   * @param {unknown} [cause] what went wrong underneath (an Error, a listener reply...)
   */
  constructor(reason, message, cause) {
    super(message, { cause })
    this.name = 'CascadeError'
    this.reason = reason
  }
}
