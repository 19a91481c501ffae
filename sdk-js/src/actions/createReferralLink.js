import { takeReferralToken } from '../referral.js'

/**
 * Get a share link for the connected wallet: the backend signs a referral
 * token for (product, wallet) and records a "referral.link_creation".
 *
 * @param {import('../client.js').Context} context
 * @param {string} [url] the page to share, absolute or relative to this page
 *   (default: the current page); any `cascade` parameter it has is removed first
 * @returns {Promise<string | null>} the link, or null: no wallet connected
 *   ("not_connected") or the request failed ("request_failed"). Never rejects.
 * @example
 * const link = await client.createReferralLink('/products/42')
 * if (link) navigator.clipboard.writeText(link)
 */
export async function createReferralLink(context, url) {
  const page = context.win.location.href
  let href
  try {
    href = takeReferralToken(new URL(url ?? page, page).href).href
  } catch {
    // not a URL: reported below
  }
  if (!href || !/^https?:/.test(href)) {
    context.report('invalid_argument', 'invalid url to share')
    return null
  }
  const reply = await context.bridge.request('createReferralLink', { url: href })
  if (reply.ok) return reply.payload.link
  const noWallet = reply.code == 'not_connected' || reply.code == 'unauthorized'
  context.report(noWallet ? 'not_connected' : 'request_failed', 'referral link not created', reply)
  return null
}
