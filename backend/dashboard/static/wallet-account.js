// The wallet page's account layer (no DOM): passkey sign-up and sign-in (cookie
// session), gasless claims and passkey-signed sends through the backend's relayer,
// and exact token amounts. wallet.js draws the page with it: window.CascadeWallet.
;(() => {
  'use strict'

  // --- bytes ---------------------------------------------------------------------------
  const fromB64url = (text) => {
    const binary = atob(text.replace(/-/g, '+').replace(/_/g, '/'))
    return Uint8Array.from(binary, (c) => c.charCodeAt(0)).buffer
  }
  const toB64url = (buffer) => {
    let binary = ''
    for (const byte of new Uint8Array(buffer)) binary += String.fromCharCode(byte)
    return btoa(binary).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '')
  }
  const descriptors = (list) => (list || []).map((d) => ({ ...d, id: fromB64url(d.id) }))
  const common = (c) => ({
    id: c.id,
    rawId: toB64url(c.rawId),
    type: c.type,
    authenticatorAttachment: c.authenticatorAttachment || null,
    clientExtensionResults: c.getClientExtensionResults ? c.getClientExtensionResults() : {},
  })
  const registrationJSON = (c) => ({
    ...common(c),
    response: {
      clientDataJSON: toB64url(c.response.clientDataJSON),
      attestationObject: toB64url(c.response.attestationObject),
      transports: c.response.getTransports ? c.response.getTransports() : [],
    },
  })
  const assertionJSON = (c) => ({
    ...common(c),
    response: {
      clientDataJSON: toB64url(c.response.clientDataJSON),
      authenticatorData: toB64url(c.response.authenticatorData),
      signature: toB64url(c.response.signature),
      userHandle: c.response.userHandle ? toB64url(c.response.userHandle) : null,
    },
  })

  // --- amounts: base units as decimal strings, BigInt only (18 decimals overflow a double)
  const groups = (digits) => digits.replace(/\B(?=(\d{3})+(?!\d))/g, ',')
  function formatUnits(value, decimals, symbol) {
    const raw = BigInt(value || '0').toString()
    let text = groups(raw)
    if (decimals) {
      const padded = raw.padStart(decimals + 1, '0')
      const fraction = padded.slice(-decimals).replace(/0+$/, '')
      text = groups(padded.slice(0, -decimals)) + (fraction ? '.' + fraction : '')
    }
    return symbol ? `${text} ${symbol}` : text
  }
  /** "1.5" with 18 decimals -> 1500000000000000000n; null when not a plain positive amount. */
  function parseUnits(text, decimals) {
    const match = /^\s*(\d*)(?:\.(\d*))?\s*$/.exec(text || '')
    if (!match || (!match[1] && !match[2])) return null
    const fraction = (match[2] || '').replace(/0+$/, '')
    if (fraction.length > (decimals || 0)) return null
    return BigInt((match[1] || '0') + fraction.padEnd(decimals || 0, '0'))
  }

  // --- the backend -----------------------------------------------------------------------
  /** An API refusal: `code` and `message` as the backend wrote them ({"error": {...}}). */
  class ApiError extends Error {
    constructor(status, code, message) {
      super(message)
      this.status = status
      this.code = code
    }
  }
  const newKey = () =>
    crypto.randomUUID ? crypto.randomUUID() : toB64url(crypto.getRandomValues(new Uint8Array(16)))

  async function call(method, path, body, idempotent) {
    const headers = { Accept: 'application/json' }
    if (body !== undefined) headers['Content-Type'] = 'application/json'
    if (idempotent) headers['Idempotency-Key'] = newKey() // one per user action
    let response
    try {
      response = await fetch(path, {
        method,
        headers,
        credentials: 'same-origin',
        body: body === undefined ? undefined : JSON.stringify(body),
      })
    } catch (error) {
      throw new ApiError(0, 'network', 'The server cannot be reached: ' + error.message)
    }
    const answer = await response.json().catch(() => null)
    if (!response.ok) {
      const error = (answer && answer.error) || {}
      throw new ApiError(response.status, error.code || `http_${response.status}`, error.message || response.statusText)
    }
    return answer
  }

  // --- passkeys --------------------------------------------------------------------------
  const REMEMBERED = 'cascade:wallet-passkey:'
  const remember = (wallet, credentialId) => {
    try {
      localStorage.setItem(REMEMBERED + wallet.toLowerCase(), credentialId)
    } catch {
      // storage blocked: sends offer every passkey of this site instead
    }
  }
  const remembered = (wallet) => {
    try {
      return localStorage.getItem(REMEMBERED + wallet.toLowerCase())
    } catch {
      return null
    }
  }

  /** A passkey prompt; the user dismissing it is `cancelled`, not a failure. */
  async function prompt(work) {
    let credential
    try {
      credential = await work()
    } catch (error) {
      if (error && (error.name === 'NotAllowedError' || error.name === 'AbortError')) {
        throw new ApiError(0, 'cancelled', 'The passkey prompt was dismissed.')
      }
      throw new ApiError(0, 'passkey_failed', 'The passkey failed: ' + (error && error.message))
    }
    if (!credential) throw new ApiError(0, 'cancelled', 'No passkey was chosen.')
    return credential
  }

  /** A new passkey whose account is the wallet (counterfactual; it is deployed on its first send). */
  async function createWallet() {
    const options = await call('POST', '/api/auth/passkey/signup/options', {})
    const credential = await prompt(() =>
      navigator.credentials.create({
        publicKey: {
          ...options,
          challenge: fromB64url(options.challenge),
          user: { ...options.user, id: fromB64url(options.user.id) },
          excludeCredentials: descriptors(options.excludeCredentials),
        },
      }),
    )
    const session = await call('POST', '/api/auth/passkey/signup/verify', {
      credential: registrationJSON(credential),
      kind: 'wallet',
    })
    remember(session.wallet, credential.id)
    return session.wallet
  }

  /** Discoverable sign-in: the passkey says which wallet. */
  async function signIn() {
    const options = await call('POST', '/api/auth/passkeys/login/options', {})
    const credential = await prompt(() =>
      navigator.credentials.get({
        publicKey: { ...options, challenge: fromB64url(options.challenge), allowCredentials: descriptors(options.allowCredentials) },
      }),
    )
    const session = await call('POST', '/api/auth/passkeys/login/verify', {
      credential: assertionJSON(credential),
      kind: 'cookie',
    })
    remember(session.wallet, credential.id)
    return session.wallet
  }

  /** The wallet of this browser's session on the backend, or null. */
  async function sessionWallet() {
    try {
      const me = await call('GET', '/api/auth/me')
      return me.kind === 'session' && me.wallet ? me.wallet : null
    } catch (error) {
      if (error.status === 401) return null
      throw error
    }
  }

  const signOut = () => call('POST', '/api/auth/logout')
  const balances = (wallet) => call('GET', `/api/wallet/${wallet}/balances`)

  // --- relayed actions -----------------------------------------------------------------------
  /** Gasless claim of every claimable token: 202 {relay_id, status, tx_hash}. */
  const claim = () => call('POST', '/api/wallet/claim', {}, true)

  /** The operation to sign: {operation_id, digest, challenge, nonce, deadline, calls, account_deployed}. */
  const prepareSend = (token, to, amount) => call('POST', '/api/wallet/send/prepare', { token, to, amount: String(amount) })

  /**
   * Sign the prepared operation's digest with the wallet's passkey (the challenge
   * IS the EIP-712 digest the account checks on-chain) and hand it to the relayer.
   */
  async function signAndSend(wallet, prepared, rpId) {
    const known = remembered(wallet)
    const credential = await prompt(() =>
      navigator.credentials.get({
        publicKey: {
          challenge: fromB64url(prepared.challenge),
          rpId,
          allowCredentials: known ? [{ type: 'public-key', id: fromB64url(known) }] : [],
          userVerification: 'required',
          timeout: 120000,
        },
      }),
    )
    return call('POST', '/api/wallet/send', { operation_id: prepared.operation_id, credential: assertionJSON(credential) }, true)
  }

  const relay = (id) => call('GET', `/api/wallet/relays/${encodeURIComponent(id)}`)
  const FINAL = new Set(['mined', 'failed'])

  /** Poll a relay until it is mined or failed; `onUpdate` sees every new state. */
  async function watchRelay(accepted, onUpdate, { intervalMs = 1000, timeoutMs = 300000 } = {}) {
    let last = { ...accepted, kind: accepted.kind || '' }
    onUpdate(last)
    const deadline = Date.now() + timeoutMs
    while (!FINAL.has(last.status)) {
      if (Date.now() > deadline) throw new ApiError(0, 'timeout', 'Still not mined; the transaction link shows where it is.')
      await new Promise((resolve) => setTimeout(resolve, intervalMs))
      let next
      try {
        next = await relay(accepted.relay_id)
      } catch (error) {
        if (error.code === 'network') continue // a blip: ask again
        throw error
      }
      if (next.status !== last.status || next.tx_hash !== last.tx_hash) onUpdate(next)
      last = next
    }
    return last
  }

  window.CascadeWallet = {
    ApiError,
    formatUnits,
    parseUnits,
    createWallet,
    signIn,
    signOut,
    sessionWallet,
    balances,
    claim,
    prepareSend,
    signAndSend,
    watchRelay,
  }
})()
