/**
 * The host page's side of the postMessage channel: one iframe on the backend's
 * origin, requests with ids and timeouts, replies that never reject.
 */
import { envelope, readListenerMessage, RESULT_READERS } from './protocol.js'
import { randomId } from './util.js'

/** A request unanswered after this long fails with code "timeout". */
export const REQUEST_TIMEOUT_MS = 15_000
/** Without "ready" after this long, `onUnavailable` is called once. */
export const READY_TIMEOUT_MS = 15_000

// Hidden: 1px off-screen rather than display:none, so the listener keeps running.
const HIDDEN = 'position:fixed;top:-9px;width:1px;height:1px;border:0'
// Shown: centred over a dimmed backdrop; the listener draws its own panel.
const SHOWN = 'position:fixed;z-index:2147483647;inset:0;margin:auto;width:min(420px,100%);height:min(620px,100%);border:0'
const BACKDROP = 'position:fixed;inset:0;z-index:2147483646;background:#0008'

/** @typedef {{ ok: true, payload: any } | { ok: false, code: string, message?: string }} Reply */

/**
 * @typedef {object} Bridge
 * @property {(type: string, payload: object, timeout?: number) => Promise<Reply>} request
 *   never rejects; `timeout` 0 waits for as long as it takes (the user in the modal)
 * @property {() => void} show put the iframe in a modal
 * @property {() => void} hide back to hidden; a pending "openWallet" is answered "cancelled"
 */

/**
 * @param {Window} win the host window
 * @param {import('./options.js').Settings} settings
 * @param {{ onStatus: (status: import('./protocol.js').Status) => void, onUnavailable: () => void }} handlers
 * @returns {Bridge}
 */
export function createBridge(win, settings, { onStatus, onUnavailable }) {
  const doc = win.document
  const { origin } = settings
  const frame = doc.createElement('iframe')
  const backdrop = doc.createElement('div')
  /** @type {Map<string, { type: string, settle: (reply: Reply) => void }>} */
  const pending = new Map()
  /** @type {(() => void)[] | null} posts waiting for "ready"; null once ready */
  let held = []

  frame.src =
    `${settings.backendUrl}/listener?product=${settings.productId}` +
    `&origin=${encodeURIComponent(win.location.origin)}`
  frame.title = 'Cascade wallet'
  // Passkeys inside a cross-origin iframe need the embedder's permission.
  frame.allow = `publickey-credentials-get ${origin}; publickey-credentials-create ${origin}`
  frame.style.cssText = HIDDEN
  frame.setAttribute('aria-hidden', 'true')
  backdrop.style.cssText = BACKDROP
  backdrop.addEventListener('click', hide)

  win.addEventListener('message', (event) => {
    const message = readListenerMessage(event, origin, frame.contentWindow)
    if (!message) return
    const { id, type, payload } = message
    if (type == 'ready' && held) {
      const posts = held
      held = null
      posts.forEach((post) => post())
    }
    if (type == 'ready' || type == 'status') return onStatus(payload)
    const request = pending.get(id)
    if (!request) return
    if (type == 'error') return request.settle({ ok: false, ...payload })
    const result = RESULT_READERS[request.type](payload)
    request.settle(result ? { ok: true, payload: result } : { ok: false, code: 'bad_response' })
  })

  const attach = () => doc.body.appendChild(frame)
  if (doc.body) attach()
  else doc.addEventListener('DOMContentLoaded', attach)
  win.setTimeout(() => held && onUnavailable(), READY_TIMEOUT_MS)

  function request(type, payload, timeout = REQUEST_TIMEOUT_MS) {
    return new Promise((resolve) => {
      const id = randomId()
      const timer = timeout && win.setTimeout(() => settle({ ok: false, code: 'timeout' }), timeout)
      const settle = (reply) => {
        if (!pending.delete(id)) return
        win.clearTimeout(timer)
        resolve(reply)
      }
      pending.set(id, { type, settle })
      const post = () => {
        try {
          frame.contentWindow.postMessage(envelope(type, id, payload), origin)
        } catch (error) {
          // the host removed our iframe, or the page is unloading
          settle({ ok: false, code: 'unavailable', message: String(error) })
        }
      }
      held ? held.push(post) : post()
    })
  }

  function show() {
    doc.body.appendChild(backdrop)
    frame.style.cssText = SHOWN
    frame.removeAttribute('aria-hidden')
    frame.focus()
  }

  function hide() {
    backdrop.remove()
    frame.style.cssText = HIDDEN
    frame.setAttribute('aria-hidden', 'true')
      pending.forEach((request) => {
      if (request.type == 'openWallet') request.settle({ ok: false, code: 'cancelled' })
    })
  }

  return { request, show, hide }
}
