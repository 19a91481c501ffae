/**
 * What the listener does for each SDK request type. Each handler returns the
 * "result" payload or throws a ListenerError whose code becomes the "error" reply.
 */
import { REFERRED } from '../referral.js'
import { pick } from '../util.js'
import { ListenerError } from './errors.js'

/**
 * @param {object} deps
 * @param {import('./api.js').Api} deps.api
 * @param {import('./session.js').SessionStore} deps.sessions
 * @param {string} deps.productId lower-case
 * @param {ReturnType<typeof import('./status.js').createStatusFeed>} deps.feed
 * @param {{ open: () => Promise<{ wallet: string }> }} deps.panel
 */
export function createHandlers({ api, sessions, productId, feed, panel }) {
  const requireSession = () => {
    const session = sessions.read()
    if (!session) throw new ListenerError('not_connected', 'No wallet connected')
    return session
  }

  /** Early, friendly rejection; the backend verifies the token again on POST. */
  async function checkReferral(token, wallet) {
    if (typeof token != 'string') throw new ListenerError('invalid_referral', 'Missing referral token')
    let info
    try {
      info = await api.referralToken(token)
    } catch (error) {
      if (error.code != 'rejected') throw error
      throw new ListenerError('invalid_referral', 'Referral token refused', error)
    }
    const problem =
      String(info.product_id).toLowerCase() != productId
        ? 'Referral token for another product'
        : !(Date.parse(info.expires_at) > Date.now())
          ? 'Referral token expired'
          : String(info.referrer).toLowerCase() == wallet.toLowerCase()
            ? 'Self-referral'
            : null
    if (problem) throw new ListenerError('invalid_referral', problem)
  }

  return {
    async interaction({ type, data, dedup_key, opened_at }) {
      const { token, wallet } = requireSession()
      if (type == REFERRED) {
        await checkReferral(data.referrer_token, wallet)
        data = { referrer_token: data.referrer_token }
      }
      const body = { product_id: productId, wallet, type, data, dedup_key }
      const answer = await api.postInteraction(token, body, type == REFERRED ? opened_at : undefined)
      return pick(answer, ['interaction_id', 'duplicate', 'rewards'])
    },

    async createReferralLink({ url }) {
      const { token, wallet } = requireSession()
      const answer = await api.createReferralLink(token, { product_id: productId, wallet, url })
      if (typeof answer.link != 'string') throw new ListenerError('network', 'Malformed referral link')
      return { link: answer.link }
    },

    async walletStatus() {
      feed.watch()
      return feed.current()
    },

    openWallet: () => panel.open(),
  }
}
