// Dashboard sign-in: a discoverable passkey opens a cookie session; a first-time owner
// binds their wallet (a signed SIWE message through the injected EIP-1193 provider) to
// a new passkey. Same auth API as the listener, with kind "cookie".
;(() => {
  'use strict'
  const status = document.getElementById('login-status')
  const say = (text) => { status.textContent = text }

  const b64urlToBytes = (text) => {
    const binary = atob(text.replace(/-/g, '+').replace(/_/g, '/'))
    return Uint8Array.from(binary, (c) => c.charCodeAt(0)).buffer
  }
  const bytesToB64url = (buffer) => {
    let binary = ''
    for (const byte of new Uint8Array(buffer)) binary += String.fromCharCode(byte)
    return btoa(binary).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '')
  }
  const descriptors = (list) => (list || []).map((d) => ({ ...d, id: b64urlToBytes(d.id) }))
  const common = (c) => ({
    id: c.id,
    rawId: bytesToB64url(c.rawId),
    type: c.type,
    authenticatorAttachment: c.authenticatorAttachment || null,
    clientExtensionResults: c.getClientExtensionResults ? c.getClientExtensionResults() : {},
  })
  const utf8ToHex = (text) =>
    '0x' + Array.from(new TextEncoder().encode(text), (b) => b.toString(16).padStart(2, '0')).join('')

  async function api(path, body) {
    const response = await fetch('/api/auth/' + path, {
      method: 'POST',
      credentials: 'same-origin',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify(body),
    })
    const answer = await response.json().catch(() => ({}))
    if (!response.ok) {
      const message = (answer.error && answer.error.message) || response.statusText
      throw new Error(message)
    }
    return answer
  }

  async function login() {
    const options = await api('passkeys/login/options', {})
    const credential = await navigator.credentials.get({
      publicKey: { ...options, challenge: b64urlToBytes(options.challenge), allowCredentials: descriptors(options.allowCredentials) },
    })
    const r = credential.response
    await api('passkeys/login/verify', {
      kind: 'cookie',
      credential: {
        ...common(credential),
        response: {
          clientDataJSON: bytesToB64url(r.clientDataJSON),
          authenticatorData: bytesToB64url(r.authenticatorData),
          signature: bytesToB64url(r.signature),
          userHandle: r.userHandle ? bytesToB64url(r.userHandle) : null,
        },
      },
    })
  }

  async function register() {
    if (!window.ethereum) throw new Error('No browser wallet found: install one, then reload.')
    const [wallet] = await window.ethereum.request({ method: 'eth_requestAccounts' })
    const challenge = await api('wallet-challenge', { wallet })
    const signature = await window.ethereum.request({ method: 'personal_sign', params: [utf8ToHex(challenge.message), wallet] })
    const options = await api('passkeys/register/options', { wallet, challenge_id: challenge.challenge_id, signature })
    const credential = await navigator.credentials.create({
      publicKey: {
        ...options,
        challenge: b64urlToBytes(options.challenge),
        user: { ...options.user, id: b64urlToBytes(options.user.id) },
        excludeCredentials: descriptors(options.excludeCredentials),
      },
    })
    const r = credential.response
    await api('passkeys/register/verify', {
      kind: 'cookie',
      credential: {
        ...common(credential),
        response: {
          clientDataJSON: bytesToB64url(r.clientDataJSON),
          attestationObject: bytesToB64url(r.attestationObject),
          transports: r.getTransports ? r.getTransports() : [],
        },
      },
    })
  }

  function wire(id, action, busy) {
    const button = document.getElementById(id)
    button.addEventListener('click', async () => {
      button.disabled = true
      say(busy)
      try {
        await action()
        say('Signed in. Opening your products…')
        window.location.assign('/dashboard')
      } catch (error) {
        const cancelled = error && (error.name === 'NotAllowedError' || error.code === 4001)
        say(cancelled ? 'Cancelled.' : 'Could not sign in: ' + (error && error.message))
        button.disabled = false
      }
    })
  }

  if (!window.PublicKeyCredential) {
    say('This browser does not support passkeys.')
    return
  }
  wire('passkey-login', login, 'Waiting for your passkey…')
  wire('passkey-register', register, 'Check your wallet, then your passkey prompt…')
})()
