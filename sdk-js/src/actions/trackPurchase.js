import { sendInteraction } from './sendInteraction.js'

// Order ids and order tokens: 1-200 characters, no control characters.
const ORDER_ID = /^[^\x00-\x1f\x7f]{1,200}$/

/**
 * Tell the backend this wallet is buying `orderId` (a "purchase.started"
 * interaction), so the shop's webhook for the same order can pay it. A browser's
 * claim is paid only when it carries the order's token, a secret the shop gave
 * this page and signs again in its webhook: Shopify's checkout (or cart) token,
 * WooCommerce's order key (`wc_order_…`), or for a custom shop the signed order
 * reference its server made for this page. Without it the claim is recorded, not
 * paid (the shop can still name the wallet in its webhook). Tracking the same
 * order and token twice counts once: the dedup key is derived from both.
 *
 * @param {import('../client.js').Context} context
 * @param {string | number} orderId the id the shop's webhook will carry
 * @param {string} [orderToken] the order's token, as the shop's webhook will carry it
 * @returns {Promise<{ interaction_id: string | number, duplicate: boolean, rewards: unknown[] } | null>}
 *   as `sendInteraction`; never rejects
 * @example
 * client.trackPurchase(Shopify.checkout.order_id, Shopify.checkout.token)
 */
export function trackPurchase(context, orderId, orderToken) {
  const id = Number.isSafeInteger(orderId) ? String(orderId) : orderId
  if (typeof id != 'string' || !ORDER_ID.test(id)) {
    context.report('invalid_argument', 'invalid order id')
    return Promise.resolve(null)
  }
  if (orderToken === undefined) {
    return sendInteraction(context, 'purchase.started', { order_id: id }, `purchase:${id}`)
  }
  if (typeof orderToken != 'string' || !ORDER_ID.test(orderToken)) {
    context.report('invalid_argument', 'invalid order token')
    return Promise.resolve(null)
  }
  const data = { order_id: id, order_token: orderToken }
  return sendInteraction(context, 'purchase.started', data, `purchase:${id}:${orderToken}`.slice(0, 255))
}
