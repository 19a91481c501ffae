/**
 * Show the listener in a modal so the user can sign in with a passkey, or bind
 * a wallet to a new passkey. Call it from a click handler. The modal closes
 * when the user is done, or on a click outside it.
 *
 * @param {import('../client.js').Context} context
 * @returns {Promise<string | null>} the connected wallet, or null when the user
 *   closed the modal (or it failed: "request_failed"). Never rejects.
 * @example
 * button.onclick = async () => {
 *   const wallet = await client.openWallet()
 *   if (wallet) button.textContent = 'Connected'
 * }
 */
export async function openWallet(context) {
  context.bridge.show()
  const reply = await context.bridge.request('openWallet', {}, 0)
  context.bridge.hide()
  if (reply.ok) return reply.payload.wallet
  if (reply.code != 'cancelled') context.report('request_failed', 'wallet not opened', reply)
  return null
}
