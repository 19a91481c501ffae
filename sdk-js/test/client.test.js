import assert from 'node:assert/strict'
import { describe, test } from 'node:test'

import { MAX_ATTEMPTS } from '../src/backoff.js'
import { READY_TIMEOUT_MS, REQUEST_TIMEOUT_MS } from '../src/bridge.js'
import { createClient } from '../src/client.js'
import { MAX_AGE_MS } from '../src/delivery.js'
import { QUEUE_LIMIT } from '../src/queue.js'
import {
  BACKEND,
  FakeStorage,
  frameOf,
  fromListener,
  hostWindow,
  PRODUCT_ID,
  REFERRAL_TOKEN,
  settle,
  SHOP,
  TOKEN,
  WALLET,
} from './fakes.js'

const NOW = 1_700_000_000_000
const QUEUE_KEY = `cascade:${PRODUCT_ID}:queue`
const REFERRAL_KEY = `cascade:${PRODUCT_ID}:referral`
const RESULT = { interaction_id: 41, duplicate: false, rewards: [] }

/** A client in a fake host page, with fake time (setTimeout and Date). */
function start(t, { href, storage, options } = {}) {
  t.mock.timers.enable({ apis: ['setTimeout', 'Date'], now: NOW })
  const win = hostWindow({ href, storage })
  const errors = []
  const client = createClient(
    {
      productId: PRODUCT_ID,
      backendUrl: BACKEND,
      onError: (reason, error) => errors.push({ reason, message: error.message }),
      ...options,
    },
    win,
  )
  const frame = frameOf(win)
  const posted = () => frame.contentWindow.posted
  const last = () => posted().at(-1)
  return {
    win,
    client,
    frame,
    errors,
    storage: win.localStorage,
    posted,
    last,
    /** the listener says hello, with this wallet (or none) */
    ready: (wallet = WALLET, tokens = []) => fromListener(win, 'ready', 'hello', { wallet, tokens }),
    /** the listener answers the last request */
    answer: (type, payload) => fromListener(win, type, last().message.id, payload),
  }
}

const interactionRequest = (id, payload) => ({
  message: { cascade: 1, id, type: 'interaction', payload },
  targetOrigin: BACKEND,
})

describe('the listener iframe', () => {
  test('is created hidden, on the backend, told the page origin; nothing is posted before ready', (t) => {
    const { frame, posted } = start(t)
    assert.equal(frame.src, `${BACKEND}/listener?product=${PRODUCT_ID}&origin=${encodeURIComponent(SHOP)}`)
    assert.equal(frame.allow, `publickey-credentials-get ${BACKEND}; publickey-credentials-create ${BACKEND}`)
    assert.equal(frame.attributes['aria-hidden'], 'true')
    assert.match(frame.style.cssText, /^position:fixed;top:-9px;width:1px;height:1px/)
    assert.deepEqual(posted(), [])
  })

  test('a backendUrl with a path keeps it', (t) => {
    const { frame } = start(t, { options: { backendUrl: `${BACKEND}/cascade/` } })
    assert.ok(frame.src.startsWith(`${BACKEND}/cascade/listener?product=`))
  })

  test('reports listener_unavailable when no ready arrives', (t) => {
    const { errors } = start(t)
    t.mock.timers.tick(READY_TIMEOUT_MS)
    assert.deepEqual(errors, [{ reason: 'listener_unavailable', message: `no answer from ${BACKEND}/listener` }])
  })

  test('ignores ready from another origin or another window', async (t) => {
    const { win, client, posted, errors } = start(t)
    client.sendInteraction('page.view')
    const data = { cascade: 1, id: 'x', type: 'ready', payload: { wallet: WALLET, tokens: [] } }
    win.dispatch('message', { origin: 'https://evil.example', source: frameOf(win).contentWindow, data })
    win.dispatch('message', { origin: BACKEND, source: win, data })
    win.dispatch('message', { origin: BACKEND, source: frameOf(win).contentWindow, data: { ...data, cascade: 2 } })
    await settle()
    assert.deepEqual(posted(), [])
    t.mock.timers.tick(READY_TIMEOUT_MS)
    assert.deepEqual(errors.map((e) => e.reason), ['listener_unavailable'])
  })
})

describe('sendInteraction', () => {
  test('queues while no wallet is connected, persisted, then sends the exact request', async (t) => {
    const { client, posted, storage, ready, answer, errors } = start(t)
    const result = client.sendInteraction('content.shared', { url: `${SHOP}/p` })
    const [queued] = storage.json(QUEUE_KEY)
    assert.deepEqual(queued, { key: queued.key, type: 'content.shared', data: { url: `${SHOP}/p` }, at: NOW, tries: 0 })
    assert.match(queued.key, /^[0-9a-f]{24}$/)

    ready(null)
    await settle()
    assert.deepEqual(posted(), [])

    ready(WALLET)
    await settle()
    const [request] = posted()
    assert.deepEqual(request, interactionRequest(request.message.id, {
      type: 'content.shared',
      data: { url: `${SHOP}/p` },
      dedup_key: queued.key,
    }))
    answer('result', { ...RESULT, extra: 'dropped' })
    assert.deepEqual(await result, RESULT)
    assert.deepEqual(storage.json(QUEUE_KEY), [])
    assert.deepEqual(errors, [])
  })

  test('sends at once when connected, in order, one at a time', async (t) => {
    const { client, posted, ready, answer } = start(t)
    ready()
    await settle()
    client.sendInteraction('a.one')
    client.sendInteraction('a.two')
    await settle()
    assert.deepEqual(posted().map((p) => p.message.payload.type), ['a.one'])
    answer('result', RESULT)
    await settle()
    assert.deepEqual(posted().map((p) => p.message.payload.type), ['a.one', 'a.two'])
  })

  test('retries network failures with backoff and the same dedup key, then gives up', async (t) => {
    const { client, posted, ready, answer, errors, storage } = start(t)
    ready()
    const result = client.sendInteraction('page.view', { path: '/' })
    await settle()
    const key = posted()[0].message.payload.dedup_key
    for (let attempt = 1; attempt < MAX_ATTEMPTS; attempt++) {
      answer('error', { code: 'network', message: 'backend unreachable' })
      await settle()
      const [stored] = storage.json(QUEUE_KEY)
      assert.equal(stored.tries, attempt)
      const wait = stored.next - Date.now()
      const ceiling = Math.min(60_000, 1000 * 2 ** (attempt - 1))
      assert.ok(wait >= ceiling / 2 && wait <= ceiling, `attempt ${attempt}: ${wait}ms`)
      t.mock.timers.tick(wait - 1)
      await settle()
      assert.equal(posted().length, attempt)
      t.mock.timers.tick(1)
      await settle()
      assert.equal(posted().length, attempt + 1)
    }
    assert.deepEqual(new Set(posted().map((p) => p.message.payload.dedup_key)), new Set([key]))
    assert.equal(new Set(posted().map((p) => p.message.id)).size, MAX_ATTEMPTS)
    answer('error', { code: 'network' })
    assert.equal(await result, null)
    assert.deepEqual(storage.json(QUEUE_KEY), [])
    assert.deepEqual(errors, [{ reason: 'retries_exhausted', message: 'page.view not delivered' }])
  })

  test('an unanswered request times out and is retried', async (t) => {
    const { client, posted, ready } = start(t)
    ready()
    client.sendInteraction('page.view')
    await settle()
    t.mock.timers.tick(REQUEST_TIMEOUT_MS)
    await settle()
    t.mock.timers.tick(1000)
    await settle()
    assert.equal(posted().length, 2)
    assert.equal(posted()[0].message.payload.dedup_key, posted()[1].message.payload.dedup_key)
  })

  test('a rejection drops the item, reports it, and the next one goes', async (t) => {
    const { client, posted, ready, answer, errors } = start(t)
    const first = client.sendInteraction('a.one')
    client.sendInteraction('a.two')
    ready()
    await settle()
    answer('error', { code: 'rejected', message: 'unknown interaction type' })
    assert.equal(await first, null)
    await settle()
    assert.equal(posted()[1].message.payload.type, 'a.two')
    assert.deepEqual(errors, [{ reason: 'rejected', message: 'a.one rejected' }])
  })

  test('a malformed result counts as a rejection', async (t) => {
    const { client, ready, answer, errors } = start(t)
    ready()
    const result = client.sendInteraction('a.one')
    await settle()
    answer('result', { interaction_id: 1 })
    assert.equal(await result, null)
    assert.deepEqual(errors.map((e) => e.reason), ['rejected'])
  })

  test('keeps the item and waits when the listener has lost its session', async (t) => {
    const { win, client, posted, ready, answer, storage } = start(t)
    ready()
    client.sendInteraction('a.one')
    await settle()
    answer('error', { code: 'unauthorized' })
    fromListener(win, 'status', 's1', { wallet: null, tokens: [] })
    await settle()
    t.mock.timers.tick(120_000)
    await settle()
    assert.equal(posted().length, 1)
    assert.equal(storage.json(QUEUE_KEY)[0].tries, 0)
    fromListener(win, 'status', 's2', { wallet: WALLET, tokens: [] })
    await settle()
    assert.equal(posted().length, 2)
  })

  test(`keeps at most ${QUEUE_LIMIT}, reporting each drop`, async (t) => {
    const { client, storage, errors } = start(t)
    const first = client.sendInteraction('page.view', { n: 0 })
    for (let n = 1; n <= QUEUE_LIMIT; n++) client.sendInteraction('page.view', { n })
    assert.equal(await first, null)
    assert.equal(storage.json(QUEUE_KEY).length, QUEUE_LIMIT)
    assert.deepEqual(storage.json(QUEUE_KEY)[0].data, { n: 1 })
    assert.deepEqual(errors, [{ reason: 'queue_full', message: 'page.view dropped, queue full' }])
  })

  test('sends what an earlier page left in storage', async (t) => {
    const left = { key: 'k-from-before', type: 'page.view', data: {}, at: NOW - 1000, tries: 2 }
    const storage = new FakeStorage({ [QUEUE_KEY]: JSON.stringify([left]) })
    const { posted, ready } = start(t, { storage })
    ready()
    await settle()
    assert.deepEqual(posted()[0].message.payload, { type: 'page.view', data: {}, dedup_key: 'k-from-before' })
  })

  test('drops items older than 30 days', async (t) => {
    const old = { key: 'old', type: 'page.view', data: {}, at: NOW - MAX_AGE_MS - 1, tries: 0 }
    const storage = new FakeStorage({ [QUEUE_KEY]: JSON.stringify([old]) })
    const { posted, ready, errors } = start(t, { storage })
    ready()
    await settle()
    assert.deepEqual(posted(), [])
    assert.deepEqual(errors, [{ reason: 'expired', message: 'page.view expired' }])
  })

  test('refuses invalid arguments without throwing or queueing', async (t) => {
    const { client, storage, errors } = start(t)
    const cyclic = {}
    cyclic.self = cyclic
    const results = [
      client.sendInteraction('Not A Type'),
      client.sendInteraction(undefined),
      client.sendInteraction(Symbol('x')),
      client.sendInteraction('referral.referred', { referrer_token: 'x' }),
      client.sendInteraction('page.view', 'data'),
      client.sendInteraction('page.view', cyclic),
      client.sendInteraction('page.view', { big: 'x'.repeat(5000) }),
    ]
    assert.deepEqual(await Promise.all(results), Array(7).fill(null))
    assert.equal(storage.map.has(QUEUE_KEY), false)
    assert.deepEqual(errors.map((e) => e.reason), Array(7).fill('invalid_argument'))
    assert.equal(errors[0].message, 'invalid interaction Not A Type')
  })

  test('a throwing onError never reaches the host page', async (t) => {
    const { client } = start(t, { options: { onError: () => { throw new Error('host bug') } } })
    assert.equal(await client.sendInteraction('Bad'), null)
  })

  test('works in memory when localStorage cannot even be read', async (t) => {
    t.mock.timers.enable({ apis: ['setTimeout', 'Date'], now: NOW })
    const win = hostWindow()
    Object.defineProperty(win, 'localStorage', { get: () => { throw new Error('SecurityError') } })
    const errors = []
    const client = createClient({ productId: PRODUCT_ID, backendUrl: BACKEND, onError: (reason) => errors.push(reason) }, win)
    client.sendInteraction('page.view')
    fromListener(win, 'ready', 'r', { wallet: WALLET, tokens: [] })
    await settle()
    assert.equal(frameOf(win).contentWindow.posted.length, 1)
    assert.deepEqual(errors, ['storage_error'])
  })
})

describe('trackPurchase', () => {
  test('sends purchase.started with a dedup key derived from the order', async (t) => {
    const { client, posted, ready } = start(t)
    client.trackPurchase(1001)
    client.trackPurchase('1001')
    ready()
    await settle()
    assert.deepEqual(posted().map((p) => p.message.payload), [
      { type: 'purchase.started', data: { order_id: '1001' }, dedup_key: 'purchase:1001' },
    ])
  })

  test('carries the order token, and derives the dedup key from order and token', async (t) => {
    const { client, posted, ready, answer } = start(t)
    client.trackPurchase(1001)
    client.trackPurchase('1001', 'bd5a8aa1ecd019dd3520ff791ee3a24c')
    client.trackPurchase('1001', 'bd5a8aa1ecd019dd3520ff791ee3a24c')
    ready()
    await settle()
    answer('result', RESULT) // one at a time: the next goes out after this answer
    await settle()
    assert.deepEqual(posted().map((p) => p.message.payload), [
      { type: 'purchase.started', data: { order_id: '1001' }, dedup_key: 'purchase:1001' },
      {
        type: 'purchase.started',
        data: { order_id: '1001', order_token: 'bd5a8aa1ecd019dd3520ff791ee3a24c' },
        dedup_key: 'purchase:1001:bd5a8aa1ecd019dd3520ff791ee3a24c',
      },
    ])
  })

  test('refuses an odd order token', async (t) => {
    const { client, errors } = start(t)
    for (const orderToken of [null, '', 42, 't'.repeat(201), 'a\u0000b']) {
      assert.equal(await client.trackPurchase('1001', orderToken), null)
    }
    assert.deepEqual(errors, Array(5).fill({ reason: 'invalid_argument', message: 'invalid order token' }))
  })

  test('refuses a missing or odd order id', async (t) => {
    const { client, errors } = start(t)
    for (const orderId of [undefined, '', 1.5, 'x'.repeat(201), 'a\nb', {}]) {
      assert.equal(await client.trackPurchase(orderId), null)
    }
    assert.deepEqual(errors, Array(6).fill({ reason: 'invalid_argument', message: 'invalid order id' }))
  })
})

describe('referral landing', () => {
  const landing = `${SHOP}/p?utm=x&cascade=${REFERRAL_TOKEN}#reviews`

  test('strips the token from the URL and sends referral.referred first once connected', async (t) => {
    const { win, client, posted, storage, ready, answer, errors } = start(t, { href: landing })
    assert.deepEqual(win.history.calls, [[{ page: 1 }, '', `${SHOP}/p?utm=x#reviews`]])
    const stored = storage.json(REFERRAL_KEY)
    assert.deepEqual(stored, [{ key: stored[0].key, type: 'referral.referred', data: { referrer_token: REFERRAL_TOKEN }, at: NOW, tries: 0 }])

    client.sendInteraction('page.view')
    ready()
    await settle()
    assert.deepEqual(posted()[0].message.payload, {
      type: 'referral.referred',
      data: { referrer_token: REFERRAL_TOKEN },
      dedup_key: stored[0].key,
      opened_at: Math.floor(NOW / 1000), // when the link landed: a fraud signal
    })
    answer('result', RESULT)
    await settle()
    assert.deepEqual(storage.json(REFERRAL_KEY), [])
    assert.equal(posted()[1].message.payload.type, 'page.view')
    assert.deepEqual(errors, [])
  })

  test('keeps the token across pages until it is sent', async (t) => {
    const storage = new FakeStorage()
    start(t, { href: landing, storage })
    t.mock.timers.reset()
    const { posted, ready } = start(t, { href: `${SHOP}/other`, storage })
    ready()
    await settle()
    assert.equal(posted()[0].message.payload.data.referrer_token, REFERRAL_TOKEN)
  })

  test('a newer landing token replaces an older one; the same one is kept as is', (t) => {
    const other = 'v1.' + 'b'.repeat(40)
    const storage = new FakeStorage()
    start(t, { href: landing, storage })
    const first = storage.json(REFERRAL_KEY)
    t.mock.timers.reset()
    start(t, { href: landing, storage })
    assert.deepEqual(storage.json(REFERRAL_KEY), first)
    t.mock.timers.reset()
    start(t, { href: `${SHOP}/?cascade=${other}`, storage })
    assert.deepEqual(storage.json(REFERRAL_KEY).map((i) => i.data.referrer_token), [other])
  })

  test('a referral the listener refuses is dropped and reported', async (t) => {
    const { storage, ready, answer, errors } = start(t, { href: landing })
    ready()
    await settle()
    answer('error', { code: 'invalid_referral', message: 'Referral token expired' })
    await settle()
    assert.deepEqual(storage.json(REFERRAL_KEY), [])
    assert.deepEqual(errors, [{ reason: 'rejected', message: 'referral.referred rejected' }])
  })

  test('a malformed token is stripped, not stored, and reported', (t) => {
    const { win, storage, errors } = start(t, { href: `${SHOP}/p?cascade=%3Cscript%3E&a=1` })
    assert.equal(win.location.href, `${SHOP}/p?a=1`)
    assert.equal(storage.map.has(REFERRAL_KEY), false)
    assert.deepEqual(errors, [{ reason: 'invalid_referral', message: 'malformed referral token in the URL' }])
  })

  test('no parameter, no history change', (t) => {
    const { win } = start(t)
    assert.deepEqual(win.history.calls, [])
  })

  test('an expired stored token is dropped unsent', async (t) => {
    const old = { key: 'r', type: 'referral.referred', data: { referrer_token: REFERRAL_TOKEN }, at: NOW - MAX_AGE_MS - 1, tries: 0 }
    const storage = new FakeStorage({ [REFERRAL_KEY]: JSON.stringify([old]) })
    const { posted, ready, errors } = start(t, { storage })
    ready()
    await settle()
    assert.deepEqual(posted(), [])
    assert.deepEqual(errors, [{ reason: 'expired', message: 'referral.referred expired' }])
  })
})

describe('createReferralLink', () => {
  test('asks the listener for a link to the current page, without any cascade parameter', async (t) => {
    const { client, last, ready, answer } = start(t)
    ready()
    const link = client.createReferralLink()
    await settle()
    assert.deepEqual(last(), {
      message: { cascade: 1, id: last().message.id, type: 'createReferralLink', payload: { url: `${SHOP}/shop?item=7` } },
      targetOrigin: BACKEND,
    })
    answer('result', { link: `${SHOP}/shop?item=7&cascade=${REFERRAL_TOKEN}` })
    assert.equal(await link, `${SHOP}/shop?item=7&cascade=${REFERRAL_TOKEN}`)
  })

  test('resolves relative URLs and strips a foreign token', async (t) => {
    const { client, last, ready } = start(t)
    ready()
    client.createReferralLink(`/sale?cascade=${REFERRAL_TOKEN}&x=1`)
    await settle()
    assert.deepEqual(last().message.payload, { url: `${SHOP}/sale?x=1` })
  })

  test('null and not_connected without a wallet; null and request_failed on timeout', async (t) => {
    const { client, ready, answer, errors } = start(t)
    ready(null)
    const first = client.createReferralLink()
    await settle()
    answer('error', { code: 'not_connected', message: 'No wallet connected' })
    assert.equal(await first, null)
    const second = client.createReferralLink()
    await settle()
    t.mock.timers.tick(REQUEST_TIMEOUT_MS)
    assert.equal(await second, null)
    assert.deepEqual(errors, [
      { reason: 'not_connected', message: 'referral link not created' },
      { reason: 'request_failed', message: 'referral link not created' },
    ])
  })

  test('refuses a non-http URL', async (t) => {
    const { client, posted, errors } = start(t)
    assert.equal(await client.createReferralLink('javascript:alert(1)'), null)
    assert.deepEqual(posted(), [])
    assert.deepEqual(errors, [{ reason: 'invalid_argument', message: 'invalid url to share' }])
  })
})

describe('watchWalletStatus', () => {
  const tokens = [{ token: TOKEN, symbol: 'USDC', decimals: 6, claimable: '900000000000000000000', queued: '100000000000000000001', claimed_total: '5' }]

  test('subscribes once and reports wallet and totals (BigInt sums) on every change', async (t) => {
    const { win, client, posted, ready, answer } = start(t)
    const seen = []
    const other = []
    ready(null)
    client.watchWalletStatus((status) => seen.push(status))
    client.watchWalletStatus((status) => other.push(status.wallet))
    await settle()
    assert.deepEqual(posted().map((p) => [p.message.type, p.message.payload]), [['walletStatus', {}]])
    answer('result', { wallet: WALLET, tokens })
    await settle() // as in a browser: each message is its own task, promise callbacks run between
    const by = '2026-12-07T09:00:00Z'
    fromListener(win, 'status', 's1', { wallet: WALLET, tokens: [{ ...tokens[0], claimable: '0', queued_expected_by: by }] })
    fromListener(win, 'status', 's2', { wallet: WALLET, tokens: [{ ...tokens[0], queued: '0', queued_expected_by: by }] })
    fromListener(win, 'status', 's3', { wallet: null, tokens: [] })
    assert.deepEqual(seen, [
      { wallet: null, tokens: [] },
      { wallet: WALLET, tokens: [{ ...tokens[0], total: '1000000000000000000001', queuedExpectedBy: null }] },
      {
        wallet: WALLET,
        tokens: [{ ...tokens[0], claimable: '0', queued_expected_by: by, total: '100000000000000000001', queuedExpectedBy: new Date(by) }],
      },
      // nothing queued: no time to promise, whatever came with it
      { wallet: WALLET, tokens: [{ ...tokens[0], queued: '0', queued_expected_by: by, total: '900000000000000000000', queuedExpectedBy: null }] },
      { wallet: null, tokens: [] },
    ])
    assert.deepEqual(other, [null, WALLET, WALLET, WALLET, null])
  })

  test('stops when unsubscribed; a throwing callback is reported, not thrown', async (t) => {
    const { win, client, errors, ready } = start(t)
    ready(null)
    const seen = []
    const stop = client.watchWalletStatus((status) => seen.push(status.wallet))
    client.watchWalletStatus(() => {
      throw new Error('host bug')
    })
    stop()
    fromListener(win, 'status', 's1', { wallet: WALLET, tokens: [] })
    assert.deepEqual(seen, [null])
    assert.deepEqual(errors.map((e) => e.reason), ['callback_failed', 'callback_failed'])
  })

  test('refuses a non-function', (t) => {
    const { client, errors } = start(t)
    assert.equal(typeof client.watchWalletStatus('nope'), 'function')
    assert.deepEqual(errors, [{ reason: 'invalid_argument', message: 'callback must be a function' }])
  })
})

describe('openWallet', () => {
  test('shows the listener in a modal and hides it when the listener answers', async (t) => {
    const { win, client, frame, last, ready, answer } = start(t)
    ready(null)
    const opened = client.openWallet()
    await settle()
    assert.equal(last().message.type, 'openWallet')
    assert.match(frame.style.cssText, /z-index:2147483647/)
    assert.equal(frame.attributes['aria-hidden'], undefined)
    assert.equal(win.document.body.children.length, 2)
    t.mock.timers.tick(10 * REQUEST_TIMEOUT_MS) // the user takes their time: no timeout
    answer('result', { wallet: WALLET })
    assert.equal(await opened, WALLET)
    assert.match(frame.style.cssText, /^position:fixed;top:-9px/)
    assert.equal(frame.attributes['aria-hidden'], 'true')
    assert.deepEqual(win.document.body.children, [frame])
  })

  test('a click on the backdrop closes it and resolves null, silently', async (t) => {
    const { win, client, ready, errors } = start(t)
    ready(null)
    const opened = client.openWallet()
    await settle()
    const backdrop = win.document.body.children.find((node) => node.tagName == 'DIV')
    backdrop.click()
    assert.equal(await opened, null)
    assert.deepEqual(errors, [])
  })

  test('a listener error other than cancelled is reported', async (t) => {
    const { client, ready, answer, errors } = start(t)
    ready(null)
    const opened = client.openWallet()
    await settle()
    answer('error', { code: 'unsupported', message: 'Passkeys are not available here' })
    assert.equal(await opened, null)
    assert.deepEqual(errors, [{ reason: 'request_failed', message: 'wallet not opened' }])
  })
})

describe('nothing throws into the host page', () => {
  test('a removed iframe turns into failed requests, not exceptions', async (t) => {
    const { client, frame, ready, errors } = start(t)
    ready()
    frame.contentWindow = null
    const result = client.createReferralLink()
    assert.equal(await result, null)
    assert.deepEqual(errors.map((e) => e.reason), ['request_failed'])
  })
})
