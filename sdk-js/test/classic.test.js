// The classic build, run as a browser would: the documented stub first, then
// dist/cascade.js, both evaluated with the fake window as their global object.
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { describe, test } from 'node:test'
import vm from 'node:vm'

import { build } from '../scripts/build.mjs'
import { BACKEND, frameOf, fromListener, hostWindow, PRODUCT_ID, settle, WALLET } from './fakes.js'

await build()
const CLASSIC = readFileSync(new URL('../dist/cascade.js', import.meta.url), 'utf8')
const README = readFileSync(new URL('../README.md', import.meta.url), 'utf8')
// The stub exactly as README.md documents it.
const STUB = README.match(/window\.cascade = window\.cascade \|\| function[^\n]+/)[0]

function page(t) {
  t.mock.timers.enable({ apis: ['setTimeout'] })
  const win = hostWindow()
  Object.assign(win, { URL, URLSearchParams, crypto, console, structuredClone })
  win.window = win
  const context = vm.createContext(win)
  return { win, run: (code) => vm.runInContext(code, context) }
}

describe('classic script and snippet stub', () => {
  test('replays the calls queued by the stub, in order', async (t) => {
    const { win, run } = page(t)
    const seen = []
    win.seen = seen
    run(STUB)
    run(`cascade('sendInteraction', 'page.view', { path: '/' })`) // before init: waits for it
    run(`cascade('init', { productId: '${PRODUCT_ID}', backendUrl: '${BACKEND}' })`)
    run(`cascade(function (client) { seen.push(typeof client.openWallet) })`)
    assert.equal(win.cascade.q.length, 3)

    run(CLASSIC)
    assert.equal(typeof win.Cascade.init, 'function')
    assert.deepEqual(seen, ['function'])
    const queued = win.localStorage.json(`cascade:${PRODUCT_ID}:queue`)
    assert.deepEqual(queued.map((item) => item.type), ['page.view'])

    // after load, cascade() runs at once and returns the method's result
    const purchase = run(`cascade('trackPurchase', 'A-1')`)
    assert.equal(typeof purchase.then, 'function')
    fromListener(win, 'ready', 'r', { wallet: WALLET, tokens: [] })
    await settle()
    assert.deepEqual(frameOf(win).contentWindow.posted.map((p) => p.message.payload.type), ['page.view'])
  })

  test('an invalid init goes to onError (or the console), never throws', (t) => {
    const { win, run } = page(t)
    const errors = []
    win.record = (reason, error) => errors.push([reason, error.message])
    run(STUB)
    run(`cascade('init', { productId: 'nope', backendUrl: '${BACKEND}', onError: record })`)
    run(CLASSIC)
    assert.deepEqual(errors, [['invalid_option', 'productId: not 0x + 64 hex digits']])
    assert.equal(frameOf(win), null)
  })

  test('unknown methods and throwing callbacks are reported', (t) => {
    const { win, run } = page(t)
    const errors = []
    win.record = (reason, error) => errors.push([reason, error.message])
    run(CLASSIC)
    run(`cascade('init', { productId: '${PRODUCT_ID}', backendUrl: '${BACKEND}', onError: record })`)
    run(`cascade('deleteEverything')`)
    run(`cascade(function () { throw new Error('host bug') })`)
    assert.deepEqual(errors, [
      ['invalid_argument', 'unknown method deleteEverything'],
      ['callback_failed', 'cascade callback threw'],
    ])
  })

  test('Cascade.init works without the stub; a second copy of the script changes nothing', (t) => {
    const { win, run } = page(t)
    run(CLASSIC)
    const first = win.Cascade
    run(CLASSIC)
    assert.equal(win.Cascade, first)
    const client = run(`Cascade.init({ productId: '${PRODUCT_ID}', backendUrl: '${BACKEND}' })`)
    assert.deepEqual(Object.keys(client), ['sendInteraction', 'trackPurchase', 'createReferralLink', 'watchWalletStatus', 'openWallet'])
  })
})
