import assert from 'node:assert/strict'
import { describe, test } from 'node:test'

import { readClientMessage, readListenerMessage, RESULT_READERS, toSmallJson } from '../src/protocol.js'
import { BACKEND, FakeWindow, SHOP, TOKEN, WALLET } from './fakes.js'

const frame = new FakeWindow()
const parent = new FakeWindow()
const token = { token: TOKEN, symbol: 'USDC', decimals: 6, claimable: '1500000', queued: '0', claimed_total: '99999999999999999999999' }
const status = { wallet: WALLET, tokens: [token] }
const fromFrame = (data, overrides = {}) => readListenerMessage({ origin: BACKEND, source: frame, data, ...overrides }, BACKEND, frame)
const fromParent = (data, overrides = {}) => readClientMessage({ origin: SHOP, source: parent, data, ...overrides }, SHOP, parent)

describe('listener messages, as the SDK reads them', () => {
  test('accepts ready, status, result and error in the exact format', () => {
    assert.deepEqual(fromFrame({ cascade: 1, id: 'r1', type: 'ready', payload: status }), { id: 'r1', type: 'ready', payload: status })
    assert.deepEqual(fromFrame({ cascade: 1, id: 'r1', type: 'status', payload: { wallet: null, tokens: [] } }), {
      id: 'r1',
      type: 'status',
      payload: { wallet: null, tokens: [] },
    })
    assert.deepEqual(fromFrame({ cascade: 1, id: 'a-b_c', type: 'error', payload: { code: 'network', message: 'down' } }), {
      id: 'a-b_c',
      type: 'error',
      payload: { code: 'network', message: 'down' },
    })
    assert.equal(fromFrame({ cascade: 1, id: 'x', type: 'result', payload: { anything: 1 } }).type, 'result')
  })

  test('status: an under_review amount is kept when valid, dropped when malformed', () => {
    const held = { wallet: WALLET, tokens: [{ ...token, under_review: '7' }] }
    assert.deepEqual(fromFrame({ cascade: 1, id: 'r1', type: 'status', payload: held }).payload, held)
    const bad = { wallet: WALLET, tokens: [{ ...token, under_review: '-1' }] }
    assert.deepEqual(fromFrame({ cascade: 1, id: 'r1', type: 'status', payload: bad }).payload, status)
  })

  test('status: queued_expected_by is kept when an ISO time or null, dropped otherwise', () => {
    for (const value of ['2026-12-06T12:00:00Z', '2026-12-06T12:00:00.5+01:00', null]) {
      const timed = { wallet: WALLET, tokens: [{ ...token, queued_expected_by: value }] }
      assert.deepEqual(fromFrame({ cascade: 1, id: 'r1', type: 'status', payload: timed }).payload, timed)
    }
    for (const value of ['tomorrow', '2026-13-45T99:00:00Z', 1765000000, '2026-12-06T12:00:00']) {
      const bad = { wallet: WALLET, tokens: [{ ...token, queued_expected_by: value }] }
      assert.deepEqual(fromFrame({ cascade: 1, id: 'r1', type: 'status', payload: bad }).payload, status, String(value))
    }
  })

  test('ignores another origin, another window, or no window', () => {
    const data = { cascade: 1, id: 'r1', type: 'ready', payload: status }
    assert.equal(fromFrame(data, { origin: 'https://evil.example' }), null)
    assert.equal(fromFrame(data, { origin: `${BACKEND}:443` }), null)
    assert.equal(fromFrame(data, { origin: 'null' }), null)
    assert.equal(fromFrame(data, { source: new FakeWindow() }), null)
    assert.equal(readListenerMessage({ origin: BACKEND, source: null, data }, BACKEND, null), null)
  })

  test('ignores other versions and malformed envelopes', () => {
    for (const data of [
      null,
      'string',
      [],
      { cascade: 2, id: 'r1', type: 'ready', payload: status },
      { cascade: '1', id: 'r1', type: 'ready', payload: status },
      { cascade: 1, type: 'ready', payload: status },
      { cascade: 1, id: 'has space', type: 'ready', payload: status },
      { cascade: 1, id: 'x'.repeat(65), type: 'ready', payload: status },
      { cascade: 1, id: 'r1', type: 'interaction', payload: {} },
      { cascade: 1, id: 'r1', type: 'ready' },
      { cascade: 1, id: 'r1', type: 'ready', payload: [] },
    ]) {
      assert.equal(fromFrame(data), null, JSON.stringify(data))
    }
  })

  test('rejects malformed status payloads', () => {
    const bad = [
      { wallet: '0x1234', tokens: [] },
      { wallet: WALLET },
      { wallet: undefined, tokens: [] },
      { wallet: WALLET, tokens: [{ ...token, claimable: 1500000 }] },
      { wallet: WALLET, tokens: [{ ...token, queued: '1.5' }] },
      { wallet: WALLET, tokens: [{ ...token, queued: '-1' }] },
      { wallet: WALLET, tokens: [{ ...token, claimed_total: '1e21' }] },
      { wallet: WALLET, tokens: [{ ...token, decimals: '6' }] },
      { wallet: WALLET, tokens: [{ ...token, token: 'USDC' }] },
      { wallet: WALLET, tokens: [null] },
    ]
    for (const payload of bad) {
      assert.equal(fromFrame({ cascade: 1, id: 's', type: 'status', payload }), null, JSON.stringify(payload))
    }
  })

  test('accepts a token the product has not registered (symbol and decimals null)', () => {
    const unregistered = { ...token, symbol: null, decimals: null }
    const message = fromFrame({ cascade: 1, id: 's', type: 'status', payload: { wallet: WALLET, tokens: [unregistered] } })
    assert.deepEqual(message.payload, { wallet: WALLET, tokens: [unregistered] })
    const half = fromFrame({ cascade: 1, id: 's', type: 'status', payload: { wallet: WALLET, tokens: [{ ...token, symbol: 7 }] } })
    assert.equal(half, null)
  })

  test('copies only known fields', () => {
    const message = fromFrame({ cascade: 1, id: 's', type: 'status', payload: { wallet: WALLET, extra: 1, tokens: [{ ...token, html: '<b>' }] } })
    assert.deepEqual(message.payload, status)
    const error = fromFrame({ cascade: 1, id: 'e', type: 'error', payload: { code: 'rejected', stack: 'x' } })
    assert.deepEqual(error.payload, { code: 'rejected', message: undefined })
  })

  test('rejects malformed error payloads', () => {
    for (const payload of [{}, { code: 'Not-A-Code' }, { code: 'x'.repeat(33) }, { code: 'rejected', message: 5 }]) {
      assert.equal(fromFrame({ cascade: 1, id: 'e', type: 'error', payload }), null)
    }
  })

  test('result payloads are read per request type', () => {
    assert.deepEqual(RESULT_READERS.interaction({ interaction_id: 7, duplicate: false, rewards: [], x: 1 }), {
      interaction_id: 7,
      duplicate: false,
      rewards: [],
    })
    assert.equal(RESULT_READERS.interaction({ interaction_id: 7, duplicate: 'no', rewards: [] }), null)
    assert.deepEqual(RESULT_READERS.createReferralLink({ link: `${SHOP}/?cascade=abc` }), { link: `${SHOP}/?cascade=abc` })
    assert.equal(RESULT_READERS.createReferralLink({ link: 'javascript:alert(1)' }), null)
    assert.deepEqual(RESULT_READERS.openWallet({ wallet: WALLET }), { wallet: WALLET })
    assert.equal(RESULT_READERS.openWallet({ wallet: null }), null)
    assert.deepEqual(RESULT_READERS.walletStatus(status), status)
  })
})

describe('SDK requests, as the listener reads them', () => {
  const interaction = { type: 'content.shared', data: { url: SHOP }, dedup_key: 'k1' }

  test('accepts the four request types from the parent origin and window', () => {
    assert.deepEqual(fromParent({ cascade: 1, id: 'q1', type: 'interaction', payload: interaction }), {
      id: 'q1',
      type: 'interaction',
      payload: interaction,
    })
    assert.deepEqual(fromParent({ cascade: 1, id: 'q2', type: 'createReferralLink', payload: { url: `${SHOP}/p` } }).payload, {
      url: `${SHOP}/p`,
    })
    assert.deepEqual(fromParent({ cascade: 1, id: 'q3', type: 'walletStatus', payload: {} }).payload, {})
    assert.deepEqual(fromParent({ cascade: 1, id: 'q4', type: 'openWallet', payload: { x: 1 } }).payload, {})
  })

  test('ignores other origins and windows silently', () => {
    const data = { cascade: 1, id: 'q1', type: 'interaction', payload: interaction }
    assert.equal(fromParent(data, { origin: 'https://evil.example' }), null)
    assert.equal(fromParent(data, { origin: 'https://shop.example.evil.example' }), null)
    assert.equal(fromParent(data, { origin: 'http://shop.example' }), null)
    assert.equal(fromParent(data, { source: new FakeWindow() }), null)
    assert.equal(fromParent({ ...data, cascade: 0 }), null)
    assert.equal(fromParent({ ...data, type: 'result' }), null)
  })

  test('flags malformed payloads from a genuine peer so it can be told', () => {
    for (const payload of [
      { ...interaction, type: 'Bad Type' },
      { ...interaction, type: 'a'.repeat(65) },
      { ...interaction, data: [] },
      { ...interaction, data: { big: 'x'.repeat(5000) } },
      { ...interaction, dedup_key: '' },
      { ...interaction, dedup_key: 'k'.repeat(256) },
      { type: 'page.view', data: {} },
    ]) {
      assert.deepEqual(fromParent({ cascade: 1, id: 'q1', type: 'interaction', payload }), { id: 'q1', invalid: true })
    }
    assert.deepEqual(fromParent({ cascade: 1, id: 'q2', type: 'createReferralLink', payload: { url: 'javascript:x' } }), {
      id: 'q2',
      invalid: true,
    })
  })
})

describe('toSmallJson', () => {
  test('copies plain JSON objects, refuses the rest', () => {
    const data = { a: [1, 'b'], at: new Date(0), skip: () => 1 }
    assert.deepEqual(toSmallJson(data), { a: [1, 'b'], at: '1970-01-01T00:00:00.000Z' })
    const cyclic = {}
    cyclic.self = cyclic
    for (const value of [cyclic, { n: 1n }, [], 'text', null, { big: 'x'.repeat(4096) }]) {
      assert.equal(toSmallJson(value), null)
    }
  })
})
