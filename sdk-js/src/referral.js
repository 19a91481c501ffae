/** The landing-URL parameter that carries a referral token. */
export const REFERRAL_PARAM = 'cascade'
/** The interaction the SDK sends, on its own, for a stored referral token. */
export const REFERRED = 'referral.referred'
// The token is opaque; only its alphabet and length are checked (see PROTOCOL.md).
const TOKEN = /^[\w.~-]{16,1024}$/

/**
 * Find the referral token in a landing URL and the same URL without it; the
 * other query parameters keep their exact original encoding, the hash stays.
 * @param {string} href
 * @returns {{ found: boolean, token: string | null, href: string }}
 *   `found` if the parameter was present; `token` only when well-formed
 * @example takeReferralToken('https://shop.example/p?a=1&cascade=tok...#x')
 *   // { found: true, token: 'tok...', href: 'https://shop.example/p?a=1#x' }
 */
export function takeReferralToken(href) {
  const url = new URL(href)
  let value = null
  const kept = url.search
    .slice(1)
    .split('&')
    .filter((part) => {
      const equals = part.indexOf('=')
      const name = equals < 0 ? part : part.slice(0, equals)
      if (name != REFERRAL_PARAM) return part != ''
      if (value === null) value = equals < 0 ? '' : part.slice(equals + 1)
      return false
    })
  if (value === null) return { found: false, token: null, href }
  url.search = kept.join('&')
  return { found: true, token: TOKEN.test(value) ? value : null, href: url.href }
}
