import { isInteractionType, toSmallJson } from '../protocol.js'
import { REFERRED } from '../referral.js'
import { randomId } from '../util.js'

/**
 * Record something the user did, for the connected wallet. Before a wallet
 * connects, the interaction waits in the queue (persisted, 50 at most); it is
 * retried with backoff on network failures, always with the same dedup key.
 *
 * @param {import('../client.js').Context} context
 * @param {string} type lower-case dotted words, e.g. "content.shared" (at most 64 characters;
 *   "referral.referred" is reserved: the SDK sends it from the landing URL)
 * @param {Record<string, unknown>} [data] JSON object, at most 4096 characters serialised
 * @param {string} [key] dedup key; generated when omitted (not part of the public signature)
 * @returns {Promise<{ interaction_id: string | number, duplicate: boolean, rewards: unknown[] } | null>}
 *   the backend's answer once delivered (possibly much later); null if it was dropped
 *   or invalid (see `onError`). Never rejects.
 * @example
 * client.sendInteraction('content.shared', { url: location.href })
 */
export function sendInteraction(context, type, data = {}, key = randomId()) {
  const json = toSmallJson(data)
  if (!isInteractionType(type) || type == REFERRED || !json) {
    context.report('invalid_argument', `invalid interaction ${String(type).slice(0, 64)}`)
    return Promise.resolve(null)
  }
  const delivered = context.delivery.settled(key)
  context.queue.add({ key, type, data: json, at: Date.now(), tries: 0 })
  context.delivery.flush()
  return delivered
}
