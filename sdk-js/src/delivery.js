/**
 * Sends queued interactions (and the stored referral token) through the
 * listener while a wallet is connected: one at a time, oldest first, with
 * backoff on transient failures and the same dedup key on every attempt.
 */
import { backoffDelay, MAX_ATTEMPTS } from './backoff.js'
import { REFERRED } from './referral.js'

/** Queued items older than this are dropped ("expired"); also the referral token's life. */
export const MAX_AGE_MS = 30 * 24 * 3600 * 1000

// Listener error codes worth another attempt later; the rest are final.
const TRANSIENT = ['network', 'timeout', 'unavailable']
// The listener has no session (any more): keep the item, wait for the next "status".
const NEEDS_WALLET = ['not_connected', 'unauthorized']

/**
 * @typedef {object} Delivery
 * @property {() => Promise<void>} flush deliver what is due; a no-op without a wallet
 * @property {(key: string) => Promise<object | null>} settled resolves with the
 *   listener's result when the item is delivered, or null when it is dropped
 * @property {(item: import('./queue.js').Item, reason: string, message: string, cause?: unknown) => void} drop
 */

/**
 * @param {import('./client.js').Context} context
 * @returns {Delivery}
 */
export function createDelivery(context) {
  const { queue, referral, win } = context
  /** @type {Map<string, ((result: object | null) => void)[]>} this page's waiting promises */
  const waiting = new Map()
  let busy = false
  let timer

  const sourceOf = (item) => (item.type == REFERRED ? referral : queue)
  const all = () => referral.items().concat(queue.items())
  const settle = (key, result) => {
    ;(waiting.get(key) || []).forEach((resolve) => resolve(result))
    waiting.delete(key)
  }
  const drop = (item, reason, message, cause) => {
    sourceOf(item).remove(item.key)
    settle(item.key, null)
    context.report(reason, message, cause)
  }

  async function flush() {
    if (busy) return
    busy = true
    win.clearTimeout(timer)
    try {
      for (let item; context.wallet && (item = all().find((i) => !(i.next > Date.now()))); ) {
        if (Date.now() - item.at > MAX_AGE_MS) {
          drop(item, 'expired', `${item.type} expired`)
          continue
        }
        const reply = await context.bridge.request('interaction', {
          type: item.type,
          data: item.data,
          dedup_key: item.key,
          // when the referral link was opened (the token landed): a fraud signal
          ...(item.type == REFERRED ? { opened_at: Math.floor(item.at / 1000) } : {}),
        })
        if (reply.ok) {
          sourceOf(item).remove(item.key)
          settle(item.key, reply.payload)
        } else if (NEEDS_WALLET.includes(reply.code)) {
          break
        } else if (!TRANSIENT.includes(reply.code)) {
          drop(item, 'rejected', `${item.type} rejected`, reply)
        } else if (++item.tries >= MAX_ATTEMPTS) {
          drop(item, 'retries_exhausted', `${item.type} not delivered`, reply)
        } else {
          item.next = Date.now() + backoffDelay(item.tries)
          sourceOf(item).update(item)
        }
      }
    } finally {
      busy = false
    }
    const later = all()
      .map((item) => item.next)
      .filter((next) => next > Date.now())
    if (context.wallet && later.length) {
      timer = win.setTimeout(flush, Math.min(...later) - Date.now())
    }
  }

  return {
    flush,
    drop,
    settled: (key) =>
      new Promise((resolve) => waiting.set(key, (waiting.get(key) || []).concat(resolve))),
  }
}
