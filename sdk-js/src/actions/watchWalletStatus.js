/**
 * Follow the connected wallet and its reward totals per token. The callback
 * runs at once when the status is already known, then on every change
 * (connect, disconnect, new rewards, claims). The first watcher makes the
 * listener open a live stream from the backend.
 *
 * @param {import('../client.js').Context} context
 * @param {(status: import('../client.js').WalletStatus) => void} callback
 *   receives `{ wallet, tokens: [{ token, symbol, decimals, claimable, queued, claimed_total, under_review, total, queuedExpectedBy }] }`;
 *   amounts are decimal strings in base units (use BigInt, never Number); `queuedExpectedBy`
 *   is the Date by which the queued amount should be on-chain at the latest, or null
 * @returns {() => void} stops this callback
 * @example
 * const stop = client.watchWalletStatus(({ wallet, tokens }) => {
 *   badge.textContent = wallet ? tokens.map((t) => `${t.total} ${t.symbol}`).join(', ') : 'Connect'
 *   const next = tokens.find((t) => t.queuedExpectedBy)
 *   if (next) note.textContent = `on-chain by ${next.queuedExpectedBy.toLocaleString()}`
 * })
 */
export function watchWalletStatus(context, callback) {
  if (typeof callback != 'function') {
    context.report('invalid_argument', 'callback must be a function')
    return () => {}
  }
  context.watchers.add(callback)
  if (context.status) notify(context, callback)
  if (!context.watching) {
    context.watching = true
    context.bridge.request('walletStatus', {}).then((reply) => {
      if (reply.ok) return context.setStatus(reply.payload)
      context.watching = false
      context.report('request_failed', 'wallet status unavailable', reply)
    })
  }
  return () => context.watchers.delete(callback)
}

/**
 * Call a host callback with the current status; its failure is reported, not thrown.
 * @param {Context} context
 * @param {(status: WalletStatus) => void} callback
 */
export function notify(context, callback) {
  try {
    callback(context.status)
  } catch (error) {
    context.report('callback_failed', 'watchWalletStatus callback threw', error)
  }
}
