import assert from 'node:assert/strict'
import { describe, test } from 'node:test'

import { SESSION_KEY } from '../src/listener/session.js'
import { startListener } from '../src/listener/listener.js'
import {
  BACKEND,
  FakeDocument,
  FakeStorage,
  FakeWindow,
  fakeFetch,
  PRODUCT_ID,
  REFERRAL_TOKEN,
  REFERRER,
  response,
  settle,
  SHOP,
  TOKEN,
  WALLET,
} from './fakes.js'

const ORIGINS_PATH = `/api/external/products/${PRODUCT_ID}/origins`
const SESSION = { token: 'bearer-secret-123', wallet: WALLET, expires_at: '2999-01-01T00:00:00Z' }
const TOKENS = [{ token: TOKEN, symbol: 'USDC', decimals: 6, claimable: '10', queued: '5', claimed_total: '0' }]

class FakeEventSource {
  static opened = []
  constructor(url) {
    this.url = url
    this.listeners = {}
    this.closed = false
    FakeEventSource.opened.push(this)
  }
  addEventListener(type, listener) {
    this.listeners[type] = listener
  }
  close() {
    this.closed = true
  }
  emit(type, data) {
    this.listeners[type]?.({ type, data })
  }
}

/** A listener page inside a fake shop page. */
function setup({ search, routes = {}, session, parentIsSelf, credentials, ethereum } = {}) {
  const query = search ?? `?product=${PRODUCT_ID}&origin=${encodeURIComponent(SHOP)}`
  const parent = new FakeWindow()
  const win = new FakeWindow()
  win.parent = parentIsSelf ? win : parent
  win.location = { search: query, href: `${BACKEND}/listener${query}` }
  win.document = new FakeDocument()
  const storage = new FakeStorage(session ? { [SESSION_KEY]: JSON.stringify(session) } : {})
  const { fetch, calls } = fakeFetch({
    [`GET ${ORIGINS_PATH}`]: () => response(200, { origins: ['https://other.example', SHOP] }),
    [`GET /api/wallet/${WALLET}/rewards`]: () => response(200, { wallet: WALLET, tokens: TOKENS }),
    ...routes,
  })
  FakeEventSource.opened = []
  const env = { window: win, fetch, storage, credentials, getEthereum: () => ethereum, EventSource: FakeEventSource }
  const posted = () => parent.posted
  return {
    env,
    win,
    parent,
    storage,
    calls,
    posted,
    last: () => parent.posted.at(-1),
    started: startListener(env),
    /** the shop page sends a request */
    send(type, payload, id = 'q1', overrides = {}) {
      win.dispatch('message', { origin: SHOP, source: parent, data: { cascade: 1, id, type, payload }, ...overrides })
    },
  }
}

const reply = (type, id, payload) => ({ message: { cascade: 1, id, type, payload }, targetOrigin: SHOP })

describe('listener start', () => {
  test('checks the origin with the backend, then says ready to that exact origin', async () => {
    const { started, posted, calls } = setup()
    assert.equal(await started, true)
    assert.deepEqual(calls[0], {
      method: 'GET',
      path: ORIGINS_PATH,
      headers: { accept: 'application/json' },
      body: undefined,
      credentials: 'omit',
    })
    assert.deepEqual(posted(), [reply('ready', posted()[0].message.id, { wallet: null, tokens: [] })])
  })

  test('with a session, ready carries the wallet and its totals', async () => {
    const { started, posted } = setup({ session: SESSION })
    await started
    assert.deepEqual(posted()[0].message.payload, { wallet: WALLET, tokens: TOKENS })
  })

  test('an expired session is forgotten', async () => {
    const { started, posted, storage } = setup({ session: { ...SESSION, expires_at: '2001-01-01T00:00:00Z' } })
    await started
    assert.deepEqual(posted()[0].message.payload, { wallet: null, tokens: [] })
    assert.equal(storage.map.has(SESSION_KEY), false)
  })

  test('stays silent for an origin the product did not register', async () => {
    const { started, posted, send } = setup({ search: `?product=${PRODUCT_ID}&origin=${encodeURIComponent('https://evil.example')}` })
    assert.equal(await started, false)
    send('walletStatus', {}, 'q1', { origin: 'https://evil.example' })
    await settle()
    assert.deepEqual(posted(), [])
  })

  for (const [label, search] of [
    ['no product', `?origin=${encodeURIComponent(SHOP)}`],
    ['a malformed product', `?product=0x12&origin=${encodeURIComponent(SHOP)}`],
    ['no origin', `?product=${PRODUCT_ID}`],
    ['an origin with a path', `?product=${PRODUCT_ID}&origin=${encodeURIComponent(SHOP + '/')}`],
    ['an opaque origin', `?product=${PRODUCT_ID}&origin=null`],
  ]) {
    test(`stays silent with ${label}, without calling the backend`, async () => {
      const { started, posted, calls } = setup({ search })
      assert.equal(await started, false)
      assert.deepEqual(calls, [])
      assert.deepEqual(posted(), [])
    })
  }

  test('stays silent when opened as a top-level page', async () => {
    const { started, calls } = setup({ parentIsSelf: true })
    assert.equal(await started, false)
    assert.deepEqual(calls, [])
  })

  test('stays silent when the origins cannot be fetched', async () => {
    const { started, posted } = setup({ routes: { [`GET ${ORIGINS_PATH}`]: () => new TypeError('Failed to fetch') } })
    assert.equal(await started, false)
    assert.deepEqual(posted(), [])
  })

  test('answers requests that arrived before the origin check, after ready', async () => {
    const { started, posted, send } = setup()
    send('walletStatus', {}, 'early')
    await started
    await settle()
    assert.deepEqual(posted().map((p) => p.message.type), ['ready', 'result'])
    assert.equal(posted()[1].message.id, 'early')
  })
})

describe('listener requests', () => {
  const interaction = { type: 'content.shared', data: { url: `${SHOP}/p` }, dedup_key: 'k1' }

  test('interaction: POSTs for the session wallet and returns the result; the token never leaves', async () => {
    const { started, send, calls, last, posted, storage } = setup({
      session: SESSION,
      routes: {
        'POST /api/external/interactions': () =>
          response(202, { interaction_id: 9, duplicate: false, rewards: [{ amount: '5' }], internal: 'x' }),
      },
    })
    await started
    send('interaction', interaction)
    await settle()
    const device = storage.map.get('cascade.device')
    assert.match(device, /^[0-9a-f]{24}$/)
    assert.deepEqual(calls.at(-1), {
      method: 'POST',
      path: '/api/external/interactions',
      headers: {
        accept: 'application/json',
        'cascade-device-id': device,
        'content-type': 'application/json',
        authorization: `Bearer ${SESSION.token}`,
      },
      body: { product_id: PRODUCT_ID, wallet: WALLET, type: 'content.shared', data: { url: `${SHOP}/p` }, dedup_key: 'k1' },
      credentials: 'omit',
    })
    assert.deepEqual(last(), reply('result', 'q1', { interaction_id: 9, duplicate: false, rewards: [{ amount: '5' }] }))
    assert.ok(!JSON.stringify(posted()).includes(SESSION.token))
  })

  test('interaction: the device id is made once and kept in the listener storage', async () => {
    const routes = { 'POST /api/external/interactions': () => response(202, { interaction_id: 1, duplicate: false, rewards: [] }) }
    const first = setup({ session: SESSION, routes })
    await first.started
    first.send('interaction', interaction)
    await settle()
    const device = first.calls.at(-1).headers['cascade-device-id']
    assert.match(device, /^[0-9a-f]{24}$/)
    assert.equal(first.storage.map.get('cascade.device'), device)
    first.send('interaction', interaction, 'q2')
    await settle()
    assert.equal(first.calls.at(-1).headers['cascade-device-id'], device)
  })

  test('interaction without a session: not_connected, no backend call', async () => {
    const { started, send, calls, last } = setup()
    await started
    send('interaction', interaction)
    await settle()
    assert.equal(calls.length, 1)
    assert.deepEqual(last(), reply('error', 'q1', { code: 'not_connected', message: 'No wallet connected' }))
  })

  test('ignores requests from another origin or window; answers malformed ones', async () => {
    const { started, send, posted, last } = setup({ session: SESSION })
    await started
    send('interaction', interaction, 'a', { origin: 'https://other.example' }) // registered, but not our parent
    send('interaction', interaction, 'b', { source: new FakeWindow() })
    send('interaction', interaction, 'c', { data: { cascade: 2, id: 'c', type: 'interaction', payload: interaction } })
    await settle()
    assert.equal(posted().length, 1)
    send('interaction', { ...interaction, type: 'Bad Type' }, 'd')
    await settle()
    assert.deepEqual(last(), reply('error', 'd', { code: 'bad_request', message: 'Malformed request' }))
  })

  for (const [label, answer, code, message] of [
    ['unreachable', () => new TypeError('Failed to fetch'), 'network', 'backend unreachable'],
    ['a 503', () => response(503), 'network', 'HTTP 503'],
    ['a 429', () => response(429, { error: { code: 'rate_limited', message: 'Too many interactions' } }), 'network', 'Too many interactions'],
    ['a 422', () => response(422, { error: { code: 'validation_error', message: 'unknown type' } }), 'rejected', 'unknown type'],
    ['a 200 without JSON', () => response(200), 'network', 'malformed backend response'],
  ]) {
    test(`interaction failing with ${label} replies ${code}`, async () => {
      const { started, send, last } = setup({ session: SESSION, routes: { 'POST /api/external/interactions': answer } })
      await started
      send('interaction', interaction)
      await settle()
      assert.deepEqual(last(), reply('error', 'q1', { code, message }))
    })
  }

  test('a 401 ends the session and tells the page the wallet is gone', async () => {
    const { started, send, posted, storage } = setup({
      session: SESSION,
      routes: { 'POST /api/external/interactions': () => response(401, { error: { code: 'unauthorized', message: 'Session expired' } }) },
    })
    await started
    send('interaction', interaction)
    await settle()
    await settle()
    assert.equal(storage.map.has(SESSION_KEY), false)
    const types = posted().map((p) => [p.message.type, p.message.payload])
    assert.deepEqual(types.slice(1), [
      ['error', { code: 'unauthorized', message: 'Session expired' }],
      ['status', { wallet: null, tokens: [] }],
    ])
  })

  describe('referral.referred', () => {
    const referred = { type: 'referral.referred', data: { referrer_token: REFERRAL_TOKEN, extra: 1 }, dedup_key: 'r1' }
    const tokenPath = `/api/external/referral-tokens/${REFERRAL_TOKEN}`
    const valid = { product_id: PRODUCT_ID.toUpperCase().replace('0X', '0x'), referrer: REFERRER, expires_at: '2999-01-01T00:00:00Z' }

    test('sends when the link was opened as a header, never in the body', async () => {
      const { started, send, calls } = setup({
        session: SESSION,
        routes: {
          [`GET ${tokenPath}`]: () => response(200, valid),
          'POST /api/external/interactions': () => response(202, { interaction_id: '10', duplicate: false, rewards: [] }),
        },
      })
      await started
      send('interaction', { ...referred, opened_at: 1767225600 })
      await settle()
      assert.equal(calls.at(-1).headers['cascade-link-opened-at'], '1767225600')
      assert.equal(calls.at(-1).body.opened_at, undefined)
      send('interaction', { ...referred, opened_at: 'yesterday' }, 'q2')
      await settle()
      assert.equal(calls.at(-1).headers['cascade-link-opened-at'], undefined)
    })

    test('verifies the token with the backend, then sends only the token', async () => {
      const { started, send, calls, last } = setup({
        session: SESSION,
        routes: {
          [`GET ${tokenPath}`]: () => response(200, valid),
          'POST /api/external/interactions': () => response(202, { interaction_id: '10', duplicate: false, rewards: [] }),
        },
      })
      await started
      send('interaction', referred)
      await settle()
      assert.deepEqual(calls.slice(-2).map((c) => `${c.method} ${c.path}`), [`GET ${tokenPath}`, 'POST /api/external/interactions'])
      assert.deepEqual(calls.at(-1).body.data, { referrer_token: REFERRAL_TOKEN })
      assert.deepEqual(last(), reply('result', 'q1', { interaction_id: '10', duplicate: false, rewards: [] }))
    })

    for (const [label, answer, message] of [
      ['another product', () => response(200, { ...valid, product_id: '0x' + 'cd'.repeat(32) }), 'Referral token for another product'],
      ['an expired token', () => response(200, { ...valid, expires_at: '2001-01-01T00:00:00Z' }), 'Referral token expired'],
      ['the wallet itself', () => response(200, { ...valid, referrer: WALLET.toUpperCase().replace('0X', '0x') }), 'Self-referral'],
      ['a forged token', () => response(400, { error: { code: 'bad_signature', message: 'bad signature' } }), 'Referral token refused'],
    ]) {
      test(`refuses ${label} without sending it`, async () => {
        const { started, send, calls, last } = setup({ session: SESSION, routes: { [`GET ${tokenPath}`]: answer } })
        await started
        send('interaction', referred)
        await settle()
        assert.ok(!calls.some((c) => c.path == '/api/external/interactions'))
        assert.deepEqual(last(), reply('error', 'q1', { code: 'invalid_referral', message }))
      })
    }

    test('a verification outage is retryable, not a refusal', async () => {
      const { started, send, last } = setup({ session: SESSION, routes: { [`GET ${tokenPath}`]: () => response(502) } })
      await started
      send('interaction', referred)
      await settle()
      assert.equal(last().message.payload.code, 'network')
    })
  })

  test('createReferralLink: POSTs product, wallet and url; returns only the link', async () => {
    const link = `${SHOP}/p?cascade=${REFERRAL_TOKEN}`
    const { started, send, calls, last } = setup({
      session: SESSION,
      routes: { 'POST /api/external/referral-links': () => response(200, { token: REFERRAL_TOKEN, link }) },
    })
    await started
    send('createReferralLink', { url: `${SHOP}/p` })
    await settle()
    assert.deepEqual(calls.at(-1).body, { product_id: PRODUCT_ID, wallet: WALLET, url: `${SHOP}/p` })
    assert.equal(calls.at(-1).headers.authorization, `Bearer ${SESSION.token}`)
    assert.deepEqual(last(), reply('result', 'q1', { link }))
  })

  test('walletStatus: answers now, then streams snapshots for the wallet', async () => {
    const { started, send, last, posted } = setup({ session: SESSION })
    await started
    send('walletStatus', {})
    await settle()
    assert.deepEqual(last(), reply('result', 'q1', { wallet: WALLET, tokens: TOKENS }))
    const [stream] = FakeEventSource.opened
    assert.equal(stream.url, `${BACKEND}/api/wallet/${WALLET}/stream`)
    const count = posted().length
    stream.emit('snapshot', 'not json')
    stream.emit('snapshot', JSON.stringify({ wallet: REFERRER, tokens: [] }))
    stream.emit('snapshot', JSON.stringify({ wallet: WALLET, tokens: [{ ...TOKENS[0], queued: 5 }] }))
    assert.equal(posted().length, count)
    stream.emit('snapshot', JSON.stringify({ wallet: WALLET, tokens: [{ ...TOKENS[0], claimable: '0' }] }))
    assert.deepEqual(last().message.type, 'status')
    assert.deepEqual(last().message.payload, { wallet: WALLET, tokens: [{ ...TOKENS[0], claimable: '0' }] })
  })

  test('walletStatus without a session opens no stream', async () => {
    const { started, send, last } = setup()
    await started
    send('walletStatus', {})
    await settle()
    assert.deepEqual(last().message.payload, { wallet: null, tokens: [] })
    assert.deepEqual(FakeEventSource.opened, [])
  })
})

describe('openWallet panel', () => {
  const loginOptions = { challenge: 'AAEC', timeout: 60000, rpId: 'rewards.example', allowCredentials: [], userVerification: 'preferred' }
  const assertion = {
    id: 'cred-1',
    rawId: new Uint8Array([1, 2]).buffer,
    type: 'public-key',
    authenticatorAttachment: 'platform',
    getClientExtensionResults: () => ({}),
    response: {
      clientDataJSON: new Uint8Array([3]).buffer,
      authenticatorData: new Uint8Array([4]).buffer,
      signature: new Uint8Array([5]).buffer,
      userHandle: null,
    },
  }

  test('sign in with a passkey: session saved, status pushed, result is the wallet', async () => {
    const requests = []
    const credentials = { get: async (options) => (requests.push(options), assertion), create: async () => null }
    const { started, send, win, posted, storage, calls } = setup({
      credentials,
      routes: {
        'POST /api/auth/passkeys/login/options': () => response(200, loginOptions),
        'POST /api/auth/passkeys/login/verify': () => response(200, SESSION),
      },
    })
    await started
    send('openWallet', {})
    await settle()
    win.document.body.button('Sign in with your passkey').click()
    await settle()
    await settle()
    assert.deepEqual([...new Uint8Array(requests[0].publicKey.challenge)], [0, 1, 2])
    assert.deepEqual(calls.find((c) => c.path == '/api/auth/passkeys/login/verify').body, {
      credential: {
        id: 'cred-1',
        rawId: 'AQI',
        type: 'public-key',
        authenticatorAttachment: 'platform',
        clientExtensionResults: {},
        response: { clientDataJSON: 'Aw', authenticatorData: 'BA', signature: 'BQ', userHandle: null },
      },
    })
    assert.deepEqual(storage.json(SESSION_KEY), SESSION)
    assert.deepEqual(posted().slice(1).map((p) => [p.message.type, p.message.id == 'q1' ? 'q1' : 'new', p.message.payload]), [
      ['status', 'new', { wallet: WALLET, tokens: TOKENS }],
      ['result', 'q1', { wallet: WALLET }],
    ])
    assert.deepEqual(win.document.body.children, [])
    assert.ok(!JSON.stringify(posted()).includes(SESSION.token))
  })

  test('Close answers cancelled', async () => {
    const { started, send, win, last } = setup()
    await started
    send('openWallet', {})
    await settle()
    win.document.body.button('Close').click()
    await settle()
    assert.deepEqual(last(), reply('error', 'q1', { code: 'cancelled', message: 'Closed' }))
  })

  test('a dismissed passkey prompt keeps the panel open, without a message', async () => {
    const credentials = { get: async () => Promise.reject(Object.assign(new Error('x'), { name: 'NotAllowedError' })) }
    const { started, send, win, posted } = setup({
      credentials,
      routes: { 'POST /api/auth/passkeys/login/options': () => response(200, loginOptions) },
    })
    await started
    send('openWallet', {})
    await settle()
    win.document.body.button('Sign in with your passkey').click()
    await settle()
    await settle()
    assert.equal(posted().length, 1)
    assert.equal(win.document.body.find((n) => n.role == 'status').textContent, '')
    assert.ok(win.document.body.button('Sign in with your passkey'))
  })

  const labels = (body) => [...body.all()].filter((n) => n.tagName == 'BUTTON').map((n) => [n.textContent, n.className == 'primary'])

  test('no injected wallet: "Create your wallet with a passkey" comes first, the wallet I have second', async () => {
    const { started, send, win } = setup()
    await started
    send('openWallet', {})
    await settle()
    assert.deepEqual(labels(win.document.body), [
      ['Create your wallet with a passkey', true],
      ['Use a wallet I already have', false],
      ['Sign in with your passkey', false],
      ['Close', false],
    ])
    const create = win.document.body.button('Create your wallet with a passkey')
    const hint = win.document.body.find((n) => n.id == create.attributes['aria-describedby'])
    assert.match(hint.textContent, /no seed phrase/)
  })

  test('an injected wallet: "Use a wallet I already have" comes first', async () => {
    const { started, send, win } = setup({ ethereum: { request: async () => [] } })
    await started
    send('openWallet', {})
    await settle()
    assert.deepEqual(labels(win.document.body).slice(0, 2), [
      ['Use a wallet I already have', true],
      ['Create your wallet with a passkey', false],
    ])
  })

  test('create a wallet with a passkey: sign-up options, the prompt, verify as "listener"; signed in to the account', async () => {
    const ACCOUNT = '0x' + '44'.repeat(20)
    const signup = { token: 'acct-token', wallet: ACCOUNT, expires_at: '2999-01-01T00:00:00Z' }
    const created = []
    const credentials = {
      get: async () => null,
      create: async (options) => (
        created.push(options),
        {
          id: 'new-cred',
          rawId: new Uint8Array([9]).buffer,
          type: 'public-key',
          authenticatorAttachment: 'platform',
          getClientExtensionResults: () => ({}),
          response: { clientDataJSON: new Uint8Array([1]).buffer, attestationObject: new Uint8Array([2]).buffer, getTransports: () => ['internal'] },
        }
      ),
    }
    const creation = {
      rp: { name: 'Cascade', id: 'rewards.example' },
      user: { id: 'AQ', name: 'Cascade wallet 01', displayName: 'Cascade wallet 01' },
      challenge: 'AAEC',
      pubKeyCredParams: [{ type: 'public-key', alg: -7 }],
      authenticatorSelection: { residentKey: 'required', userVerification: 'required' },
    }
    const { started, send, win, posted, storage, calls } = setup({
      credentials,
      routes: {
        'POST /api/auth/passkey/signup/options': () => response(200, creation),
        'POST /api/auth/passkey/signup/verify': () => response(200, signup),
        [`GET /api/wallet/${ACCOUNT}/rewards`]: () => response(200, { wallet: ACCOUNT, tokens: [] }),
      },
    })
    await started
    send('openWallet', {})
    await settle()
    win.document.body.button('Create your wallet with a passkey').click()
    for (let i = 0; i < 4; i++) await settle()
    assert.deepEqual([...new Uint8Array(created[0].publicKey.challenge)], [0, 1, 2])
    assert.equal(created[0].publicKey.authenticatorSelection.userVerification, 'required')
    assert.deepEqual(
      calls.filter((c) => c.method == 'POST').map((c) => [c.path, c.body]),
      [
        ['/api/auth/passkey/signup/options', {}],
        [
          '/api/auth/passkey/signup/verify',
          {
            kind: 'listener',
            credential: {
              id: 'new-cred',
              rawId: 'CQ',
              type: 'public-key',
              authenticatorAttachment: 'platform',
              clientExtensionResults: {},
              response: { clientDataJSON: 'AQ', attestationObject: 'Ag', transports: ['internal'] },
            },
          },
        ],
      ],
    )
    assert.ok(calls.every((c) => c.credentials == 'omit'))
    assert.deepEqual(storage.json(SESSION_KEY), signup)
    assert.deepEqual(posted().slice(1).map((p) => [p.message.type, p.message.payload]), [
      ['status', { wallet: ACCOUNT, tokens: [] }],
      ['result', { wallet: ACCOUNT }],
    ])
    assert.ok(!JSON.stringify(posted()).includes(signup.token))
  })

  test('sign-up refused by the backend: the panel says why and stays open', async () => {
    const credentials = {
      create: async () => ({ id: 'c', rawId: new ArrayBuffer(1), type: 'public-key', response: { clientDataJSON: new ArrayBuffer(1), attestationObject: new ArrayBuffer(1) } }),
    }
    const { started, send, win, posted } = setup({
      credentials,
      routes: {
        'POST /api/auth/passkey/signup/options': () => response(200, { challenge: 'AA', user: { id: 'AQ' } }),
        'POST /api/auth/passkey/signup/verify': () =>
          response(401, { error: { code: 'passkey_rejected', message: 'passkey refused: User verification is required' } }),
      },
    })
    await started
    send('openWallet', {})
    await settle()
    win.document.body.button('Create your wallet with a passkey').click()
    for (let i = 0; i < 4; i++) await settle()
    assert.equal(
      win.document.body.find((n) => n.role == 'status').textContent,
      'passkey refused: User verification is required (passkey_rejected)',
    )
    assert.equal(posted().length, 1)
    assert.ok(win.document.body.button('Create your wallet with a passkey'))
  })

  test('signed in: a link to the wallet page for this wallet', async () => {
    const { started, send, win } = setup({ session: SESSION })
    await started
    send('openWallet', {})
    await settle()
    const link = win.document.body.find((n) => n.tagName == 'A')
    assert.equal(link.textContent, 'Open your wallet')
    assert.equal(link.href, `${BACKEND}/wallet?address=${WALLET}`)
    assert.deepEqual([link.target, link.rel], ['_blank', 'noopener'])
  })

  test('signed in: shows the wallet, Done answers it, Sign out clears the session', async () => {
    const { started, send, win, last, storage } = setup({ session: SESSION })
    await started
    send('openWallet', {}, 'o1')
    await settle()
    assert.ok(win.document.body.find((n) => n.textContent == 'Signed in as 0x1111…1111'))
    win.document.body.button('Sign out').click()
    await settle()
    await settle()
    assert.equal(storage.map.has(SESSION_KEY), false)
    assert.deepEqual(last().message.payload, { wallet: null, tokens: [] })
    assert.ok(win.document.body.button('Sign in with your passkey'))
    send('openWallet', {}, 'o2')
    await settle()
    assert.deepEqual(last(), reply('error', 'o1', { code: 'cancelled', message: 'Closed' }))
  })
})
