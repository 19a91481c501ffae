import assert from 'node:assert/strict'
import { describe, test } from 'node:test'

import { createApi } from '../src/listener/api.js'
import { createPasskeyWallet, registerPasskey, signInWithPasskey } from '../src/listener/passkey.js'
import { proveWallet, utf8ToHex } from '../src/listener/wallet.js'
import {
  fromBase64url,
  registrationToJSON,
  toBase64url,
  toCreationOptions,
  toRequestOptions,
} from '../src/listener/webauthn.js'
import { BACKEND, fakeFetch, response, WALLET } from './fakes.js'

const bytes = (buffer) => [...new Uint8Array(buffer)]

// Shaped like py_webauthn's options_to_json(generate_registration_options(...)).
const creationJSON = {
  rp: { name: 'Cascade', id: 'rewards.example' },
  user: { id: 'dXNlci1oYW5kbGU', name: WALLET, displayName: WALLET },
  challenge: '_-8',
  pubKeyCredParams: [{ type: 'public-key', alg: -7 }, { type: 'public-key', alg: -257 }],
  timeout: 60000,
  excludeCredentials: [{ id: 'AQID', type: 'public-key', transports: ['internal'] }],
  authenticatorSelection: { residentKey: 'required', userVerification: 'preferred' },
  attestation: 'none',
}

const attestation = {
  id: 'new-cred',
  rawId: new Uint8Array([9, 9]).buffer,
  type: 'public-key',
  authenticatorAttachment: 'cross-platform',
  getClientExtensionResults: () => ({ credProps: { rk: true } }),
  response: {
    clientDataJSON: new Uint8Array([1]).buffer,
    attestationObject: new Uint8Array([2, 3]).buffer,
    getTransports: () => ['usb', 'nfc'],
  },
}

describe('base64url', () => {
  test('round-trips every byte value, without padding', () => {
    const all = Uint8Array.from({ length: 256 }, (_, i) => i)
    const text = toBase64url(all)
    assert.match(text, /^[A-Za-z0-9_-]+$/)
    assert.deepEqual(bytes(fromBase64url(text)), [...all])
    assert.equal(toBase64url(new Uint8Array([0xfb, 0xff])), '-_8')
    assert.deepEqual(bytes(fromBase64url('-_8=')), [0xfb, 0xff])
  })

  test('encodes a view of a larger buffer by its own bytes only', () => {
    const view = new Uint8Array([1, 2, 3, 4]).subarray(1, 3)
    assert.equal(toBase64url(view), 'AgM')
  })
})

describe('WebAuthn options and credentials', () => {
  test('creation options: binary fields decoded, the rest untouched', () => {
    const options = toCreationOptions(creationJSON)
    assert.deepEqual(bytes(options.challenge), [0xff, 0xef])
    assert.equal(new TextDecoder().decode(options.user.id), 'user-handle')
    assert.equal(options.user.name, WALLET)
    assert.deepEqual(bytes(options.excludeCredentials[0].id), [1, 2, 3])
    assert.deepEqual(options.excludeCredentials[0].transports, ['internal'])
    assert.deepEqual(options.pubKeyCredParams, creationJSON.pubKeyCredParams)
    assert.deepEqual(options.authenticatorSelection, creationJSON.authenticatorSelection)
  })

  test('request options without allowCredentials get an empty list (discoverable passkeys)', () => {
    const options = toRequestOptions({ challenge: 'AAEC', rpId: 'rewards.example', userVerification: 'preferred' })
    assert.deepEqual(options.allowCredentials, [])
    assert.equal(options.rpId, 'rewards.example')
  })

  test('registration credential as RegistrationResponseJSON', () => {
    assert.deepEqual(registrationToJSON(attestation), {
      id: 'new-cred',
      rawId: 'CQk',
      type: 'public-key',
      authenticatorAttachment: 'cross-platform',
      clientExtensionResults: { credProps: { rk: true } },
      response: { clientDataJSON: 'AQ', attestationObject: 'AgM', transports: ['usb', 'nfc'] },
    })
  })
})

describe('wallet binding and passkey registration', () => {
  const message = 'rewards.example wants you to sign in with your Ethereum account:\n' + WALLET + '\n\nNonce: abc'
  const routes = {
    'POST /api/auth/wallet-challenge': () => response(200, { challenge_id: 'c-1', message }),
    'POST /api/auth/passkeys/register/options': () => response(200, creationJSON),
    'POST /api/auth/passkeys/register/verify': () =>
      response(200, { token: 'tok', wallet: WALLET, expires_at: '2999-01-01T00:00:00Z' }),
  }
  const wallet = (overrides = {}) => {
    const requests = []
    return {
      requests,
      request: async (args) => {
        requests.push(args)
        if (overrides[args.method]) return overrides[args.method]()
        return args.method == 'eth_requestAccounts' ? [WALLET] : '0xsignature'
      },
    }
  }

  test('signs the server message with personal_sign, then registers the passkey', async () => {
    const { fetch, calls } = fakeFetch(routes)
    const api = createApi(fetch, BACKEND)
    const ethereum = wallet()
    const created = []
    const credentials = { get: async () => null, create: async (options) => (created.push(options), attestation) }
    const session = await registerPasskey({ api, credentials, getEthereum: () => ethereum })
    assert.deepEqual(session, { token: 'tok', wallet: WALLET, expires_at: '2999-01-01T00:00:00Z' })
    assert.deepEqual(ethereum.requests, [
      { method: 'eth_requestAccounts', params: undefined },
      { method: 'personal_sign', params: [utf8ToHex(message), WALLET] },
    ])
    assert.deepEqual(calls.map((c) => [c.path, c.body]), [
      ['/api/auth/wallet-challenge', { wallet: WALLET }],
      ['/api/auth/passkeys/register/options', { wallet: WALLET, challenge_id: 'c-1', signature: '0xsignature' }],
      ['/api/auth/passkeys/register/verify', { credential: registrationToJSON(attestation) }],
    ])
    assert.deepEqual(bytes(created[0].publicKey.challenge), [0xff, 0xef])
  })

  test('utf8ToHex encodes UTF-8 bytes', () => {
    assert.equal(utf8ToHex('a€'), '0x61e282ac')
  })

  test('no injected wallet: unsupported', async () => {
    const api = createApi(fakeFetch(routes).fetch, BACKEND)
    await assert.rejects(proveWallet(api, undefined), { code: 'unsupported', message: 'No wallet found in this browser' })
  })

  test('the user refusing in the wallet (EIP-1193 4001): cancelled', async () => {
    const api = createApi(fakeFetch(routes).fetch, BACKEND)
    const ethereum = wallet({ personal_sign: () => Promise.reject(Object.assign(new Error('denied'), { code: 4001 })) })
    await assert.rejects(proveWallet(api, ethereum), { code: 'cancelled', message: 'Request refused in the wallet' })
  })

  test('no WebAuthn in this browser: unsupported, before any request', async () => {
    const { fetch, calls } = fakeFetch(routes)
    await assert.rejects(signInWithPasskey({ api: createApi(fetch, BACKEND), credentials: undefined }), {
      code: 'unsupported',
    })
    assert.deepEqual(calls, [])
  })

  test('a passkey wallet needs WebAuthn creation: unsupported, before any request', async () => {
    const { fetch, calls } = fakeFetch(routes)
    const credentials = { get: async () => null }
    await assert.rejects(createPasskeyWallet({ api: createApi(fetch, BACKEND), credentials }), {
      code: 'unsupported',
      message: 'Passkeys are not available here',
    })
    assert.deepEqual(calls, [])
  })

  test('a passkey wallet prompt dismissed: cancelled, nothing verified', async () => {
    const { fetch, calls } = fakeFetch({
      'POST /api/auth/passkey/signup/options': () => response(200, creationJSON),
    })
    const credentials = { create: async () => Promise.reject(Object.assign(new Error('x'), { name: 'NotAllowedError' })) }
    await assert.rejects(createPasskeyWallet({ api: createApi(fetch, BACKEND), credentials }), { code: 'cancelled' })
    assert.deepEqual(calls.map((c) => c.path), ['/api/auth/passkey/signup/options'])
  })

  test('a malformed session from the backend is not stored as one', async () => {
    const { fetch } = fakeFetch({
      ...routes,
      'POST /api/auth/passkeys/login/options': () => response(200, { challenge: 'AA' }),
      'POST /api/auth/passkeys/login/verify': () => response(200, { token: 'tok', wallet: 'nope', expires_at: 'x' }),
    })
    const credentials = {
      get: async () => ({
        id: 'c',
        rawId: new Uint8Array([1]).buffer,
        type: 'public-key',
        response: { clientDataJSON: new ArrayBuffer(1), authenticatorData: new ArrayBuffer(1), signature: new ArrayBuffer(1), userHandle: new Uint8Array([7]).buffer },
      }),
    }
    await assert.rejects(signInWithPasskey({ api: createApi(fetch, BACKEND), credentials }), { code: 'network' })
  })
})
