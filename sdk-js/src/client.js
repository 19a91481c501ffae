/**
 * Wires one product's client: options, storage, the listener bridge, the
 * delivery loop and the referral landing. The public actions live in actions/.
 */
import { createBridge } from './bridge.js'
import { createDelivery } from './delivery.js'
import { CascadeError } from './errors.js'
import { readOptions } from './options.js'
import { createQueue } from './queue.js'
import { REFERRED, takeReferralToken } from './referral.js'
import { createStore } from './store.js'
import { randomId } from './util.js'
import { createReferralLink } from './actions/createReferralLink.js'
import { openWallet } from './actions/openWallet.js'
import { sendInteraction } from './actions/sendInteraction.js'
import { trackPurchase } from './actions/trackPurchase.js'
import { notify, watchWalletStatus } from './actions/watchWalletStatus.js'

/**
 * @typedef {object} WalletStatus what `watchWalletStatus` callbacks receive
 * @property {string | null} wallet the connected wallet, or null
 * @property {TokenTotals[]} tokens one entry per reward token
 */
/**
 * @typedef {object} TokenTotals the backend's fields (snake_case, as everywhere in the API) plus
 *   `total`; amounts are decimal strings in the token's base units: use BigInt, never Number
 * @property {string} token token contract address
 * @property {string} symbol
 * @property {number} decimals
 * @property {string} claimable on-chain, ready to claim
 * @property {string} queued earned, not yet pushed on-chain
 * @property {string} claimed_total claimed so far
 * @property {string} under_review held for the product's fraud review: not in `total` until
 *   approved (then queued), gone if rejected
 * @property {string} total claimable + queued (summed with BigInt)
 * @property {Date | null} queuedExpectedBy when the queued amount should be on-chain at the
 *   latest (each campaign settles as often as its shop chose); null when nothing is queued
 *   or no time can be promised (a campaign holds its rewards); a past time: settlement is late
 */

/**
 * @typedef {object} Context one client's state, shared by its actions
 * @property {import('./options.js').Settings} settings
 * @property {Window} win
 * @property {ReturnType<typeof createQueue>} queue
 * @property {ReturnType<typeof createQueue>} referral
 * @property {import('./bridge.js').Bridge} bridge
 * @property {import('./delivery.js').Delivery} delivery
 * @property {string | null} wallet
 * @property {WalletStatus | null} status
 * @property {Set<(status: WalletStatus) => void>} watchers
 * @property {boolean} watching whether the listener streams status updates
 * @property {(reason: string, message: string, cause?: unknown) => void} report
 * @property {(status: import('./protocol.js').Status) => void} setStatus
 */

/**
 * @typedef {object} CascadeClient
 * @property {(type: string, data?: Record<string, unknown>) => Promise<object | null>} sendInteraction
 * @property {(orderId: string | number, orderToken?: string) => Promise<object | null>} trackPurchase
 * @property {(url?: string) => Promise<string | null>} createReferralLink
 * @property {(callback: (status: WalletStatus) => void) => () => void} watchWalletStatus
 * @property {() => Promise<string | null>} openWallet
 */

/**
 * @param {unknown} options see `init`
 * @param {Window} win the host window (a fake one in tests)
 * @returns {CascadeClient}
 */
export function createClient(options, win) {
  const settings = readOptions(options)
  /** @type {Context} */
  const context = { settings, win, wallet: null, status: null, watchers: new Set(), watching: false }

  context.report = (reason, message, cause) => {
    try {
      settings.onError?.(reason, new CascadeError(reason, message, cause))
    } catch {
      // the host's own callback failing must not stop the SDK
    }
  }
  let storage = settings.storage
  if (storage === undefined) {
    try {
      storage = win.localStorage
    } catch (error) {
      context.report('storage_error', 'storage unavailable', error)
    }
  }
  const store = createStore(storage, (error) => context.report(error.reason, error.message, error.cause))
  const prefix = `cascade:${settings.productId}:`
  context.queue = createQueue(store, `${prefix}queue`, (item) =>
    context.delivery.drop(item, 'queue_full', `${item.type} dropped, queue full`),
  )
  // The referral token is a queue of one: kept apart so the queue's bound never evicts it,
  // and a newer landing token replaces an older one.
  context.referral = createQueue(store, `${prefix}referral`, () => {}, 1)
  context.delivery = createDelivery(context)
  landReferral(context)

  // Every status from the listener: remember it, tell the watchers, send what waits.
  context.setStatus = (status) => {
    context.wallet = status.wallet
    context.status = {
      wallet: status.wallet,
      tokens: status.tokens.map((token) => ({
        ...token,
        total: String(BigInt(token.claimable) + BigInt(token.queued)),
        queuedExpectedBy:
          token.queued !== '0' && token.queued_expected_by ? new Date(token.queued_expected_by) : null,
      })),
    }
    context.watchers.forEach((callback) => notify(context, callback))
    context.delivery.flush()
  }
  context.bridge = createBridge(win, settings, {
    onStatus: context.setStatus,
    onUnavailable: () =>
      context.report('listener_unavailable', `no answer from ${settings.backendUrl}/listener`),
  })

  return {
    sendInteraction: (type, data) => sendInteraction(context, type, data),
    trackPurchase: (orderId, orderToken) => trackPurchase(context, orderId, orderToken),
    createReferralLink: (url) => createReferralLink(context, url),
    watchWalletStatus: (callback) => watchWalletStatus(context, callback),
    openWallet: () => openWallet(context),
  }
}

/**
 * Take `?cascade=<token>` off the landing URL, keep the token until it is sent.
 * @param {Context} context
 */
function landReferral({ win, referral, report }) {
  let landing
  try {
    landing = takeReferralToken(win.location.href)
  } catch {
    return
  }
  if (!landing.found) return
  try {
    win.history.replaceState(win.history.state, '', landing.href)
  } catch {
    // a sandboxed page may refuse; the token is still taken
  }
  const { token } = landing
  if (!token) return report('invalid_referral', 'malformed referral token in the URL')
  if (referral.items()[0]?.data.referrer_token != token) {
    referral.add({ key: randomId(), type: REFERRED, data: { referrer_token: token }, at: Date.now(), tries: 0 })
  }
}
