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
