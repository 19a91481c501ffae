/**
 * A failure inside the listener, carrying the protocol error code the SDK
 * receives (PROTOCOL.md, "Error codes") and the underlying cause.
 */
export class ListenerError extends Error {
  /**
   * @param {string} code e.g. "network", "rejected", "cancelled"
   * @param {string} message short, shown to the user in the panel when relevant
   * @param {unknown} [cause]
   */
  constructor(code, message, cause) {
    super(message, { cause })
    this.name = 'ListenerError'
    this.code = code
  }
}
