/**
 * The backend endpoints the listener calls (PROTOCOL.md, "Backend endpoints").
 * Every failure becomes a ListenerError whose code tells the SDK whether to
 * retry: "network" (unreachable, 429, 5xx), "unauthorized" (401), "rejected"
 * (any other 4xx).
 */
import { isObject } from '../util.js'
import { ListenerError } from './errors.js'

/**
 * @param {number} status
 * @returns {string} the protocol error code for an HTTP failure
 */
export const codeForStatus = (status) =>
  status == 401 ? 'unauthorized' : status == 429 || status >= 500 ? 'network' : 'rejected'

// The backend's error body is {"error": {"code", "message"}}; tolerate {"message"} or {"detail"}.
const messageOf = (body) => {
  const message = body?.error?.message ?? body?.message ?? body?.detail
  return typeof message == 'string' ? message.slice(0, 200) : null
}

/**
 * @param {typeof fetch} fetchFn
 * @param {string} baseUrl the backend root, no trailing slash
 * @param {string | null} [device] this browser's id (listener/device.js), sent with interactions
 */
export function createApi(fetchFn, baseUrl, device = null) {
  /**
   * @param {'GET' | 'POST'} method
   * @param {string} path
   * @param {{ body?: object, token?: string, extra?: Record<string, string> }} [options]
   * @returns {Promise<Record<string, any>>} the JSON object the backend answered
   */
  async function call(method, path, { body, token, extra } = {}) {
    const headers = { accept: 'application/json', ...extra }
    if (body) headers['content-type'] = 'application/json'
    if (token) headers.authorization = `Bearer ${token}`
    let response
    try {
      response = await fetchFn(baseUrl + path, {
        method,
        headers,
        body: body && JSON.stringify(body),
        credentials: 'omit',
      })
    } catch (error) {
      throw new ListenerError('network', 'backend unreachable', error)
    }
    let json = null
    try {
      json = await response.json()
    } catch {
      // an empty or non-JSON body: judged by the status alone
    }
    if (!response.ok) {
      throw new ListenerError(
        codeForStatus(response.status),
        messageOf(json) ?? `HTTP ${response.status}`,
        { status: response.status, body: json },
      )
    }
    if (!isObject(json)) throw new ListenerError('network', 'malformed backend response')
    return json
  }
  const part = encodeURIComponent
  return {
    /** GET the origins allowed to embed this product's listener. */
    origins: (productId) => call('GET', `/api/external/products/${part(productId)}/origins`),
    rewards: (wallet) => call('GET', `/api/wallet/${part(wallet)}/rewards`),
    streamUrl: (wallet) => `${baseUrl}/api/wallet/${part(wallet)}/stream`,
    /** `openedAt`: unix seconds a referral link was opened (sent for referral.referred). */
    postInteraction: (token, body, openedAt) =>
      call('POST', '/api/external/interactions', {
        token,
        body,
        extra: {
          ...(device ? { 'cascade-device-id': device } : {}),
          ...(openedAt ? { 'cascade-link-opened-at': String(openedAt) } : {}),
        },
      }),
    createReferralLink: (token, body) =>
      call('POST', '/api/external/referral-links', { token, body }),
    referralToken: (referralToken) =>
      call('GET', `/api/external/referral-tokens/${part(referralToken)}`),
    walletChallenge: (body) => call('POST', '/api/auth/wallet-challenge', { body }),
    registerOptions: (body) => call('POST', '/api/auth/passkeys/register/options', { body }),
    registerVerify: (body) => call('POST', '/api/auth/passkeys/register/verify', { body }),
    signupOptions: () => call('POST', '/api/auth/passkey/signup/options', { body: {} }),
    signupVerify: (body) => call('POST', '/api/auth/passkey/signup/verify', { body }),
    loginOptions: () => call('POST', '/api/auth/passkeys/login/options', { body: {} }),
    loginVerify: (body) => call('POST', '/api/auth/passkeys/login/verify', { body }),
  }
}

/** @typedef {ReturnType<typeof createApi>} Api */
