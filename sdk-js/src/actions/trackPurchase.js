import { sendInteraction } from './sendInteraction.js'

// Order ids: 1-200 characters, no control characters.
const ORDER_ID = /^[^\x00-\x1f\x7f]{1,200}$/

/**
 * Tell the backend this wallet started checkout for `orderId` (a
 * "purchase.started" interaction), so the shop's webhook for the same order
 * can be attributed to the wallet. Tracking the same order twice counts once:
 * its dedup key is derived from the order id.
 *
 * @param {import('../client.js').Context} context
 * @param {string | number} orderId the id the shop's webhook will carry
 * @returns {Promise<{ interaction_id: string | number, duplicate: boolean, rewards: unknown[] } | null>}
 *   as `sendInteraction`; never rejects
 * @example
 * client.trackPurchase(order.id)
 */
export function trackPurchase(context, orderId) {
  const id = Number.isSafeInteger(orderId) ? String(orderId) : orderId
  if (typeof id != 'string' || !ORDER_ID.test(id)) {
    context.report('invalid_argument', 'invalid order id')
    return Promise.resolve(null)
  }
  return sendInteraction(context, 'purchase.started', { order_id: id }, `purchase:${id}`)
}
