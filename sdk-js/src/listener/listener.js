/**
 * The listener: runs in the iframe on the backend's origin, holds the passkey
 * session and calls the backend for the host page. It talks only to its parent
 * window, only if the parent's origin is one the backend registered for the
 * product, and always with that exact origin as postMessage's targetOrigin.
 */
import { envelope, readClientMessage } from '../protocol.js'
import { randomId } from '../util.js'
import { createApi } from './api.js'
import { deviceId } from './device.js'
import { createHandlers } from './handlers.js'
import { createPasskeyWallet, registerPasskey, signInWithPasskey } from './passkey.js'
import { createSessionStore } from './session.js'
import { createStatusFeed } from './status.js'
import { createPanel } from './ui.js'

const PRODUCT_ID = /^0x[0-9a-f]{64}$/i

/**
 * @typedef {object} ListenerEnv what the listener needs from the browser (fakes in tests)
 * @property {Window} window
 * @property {typeof fetch} fetch
 * @property {Pick<Storage, 'getItem' | 'setItem' | 'removeItem'> | null} storage
 * @property {CredentialsContainer | undefined} credentials
 * @property {() => any} getEthereum
 * @property {typeof EventSource | undefined} EventSource
 */

/**
 * Start the listener for `?product=<id>&origin=<embedding origin>`.
 * @param {ListenerEnv} env
 * @returns {Promise<boolean>} true once "ready" was posted; false when this page
 *   must stay silent (bad parameters, origin not registered, backend unreachable)
 */
export async function startListener(env) {
  const win = env.window
  const params = new URLSearchParams(win.location.search)
  const productId = (params.get('product') || '').toLowerCase()
  const parentOrigin = params.get('origin') || ''
  /** @type {MessageEvent[] | null} requests that arrived before the origin check finished */
  let early = []
  let accept = (event) => early?.push(event)
  win.addEventListener('message', (event) => accept(event))

  // The listener page is served at `${backendUrl}/listener`; the API lives next to it.
  const backendUrl = new URL('.', win.location.href).href.replace(/\/$/, '')
  const api = createApi(env.fetch, backendUrl, deviceId(env.storage))
  if (!(await isAllowed(api, productId, parentOrigin, win))) {
    accept = () => {}
    early = null
    return false
  }

  const post = (type, id, payload) => win.parent.postMessage(envelope(type, id, payload), parentOrigin)
  const sessions = createSessionStore(env.storage)
  const feed = createStatusFeed({
    api,
    sessions,
    EventSource: env.EventSource,
    onStatus: (status) => post('status', randomId(), status),
  })
  /** The session changed (sign-in, sign-out, expiry): tell the SDK, follow the new wallet. */
  const announce = async () => {
    feed.restart()
    post('status', randomId(), await feed.current())
  }
  const signedIn = async (session) => {
    sessions.save(session)
    await announce()
    return session
  }
  const passkeyEnv = { api, credentials: env.credentials, getEthereum: env.getEthereum }
  const panel = createPanel(win.document, {
    signIn: async () => signedIn(await signInWithPasskey(passkeyEnv)),
    createWallet: async () => signedIn(await createPasskeyWallet(passkeyEnv)),
    register: async () => signedIn(await registerPasskey(passkeyEnv)),
    signOut: async () => {
      sessions.clear()
      await announce()
    },
    wallet: () => sessions.read()?.wallet ?? null,
    hasInjectedWallet: () => Boolean(env.getEthereum()),
    walletPage: (wallet) => `${backendUrl}/wallet?address=${encodeURIComponent(wallet)}`,
  })
  const handlers = createHandlers({ api, sessions, productId, feed, panel })

  accept = async (event) => {
    const request = readClientMessage(event, parentOrigin, win.parent)
    if (!request) return
    if (request.invalid) return post('error', request.id, { code: 'bad_request', message: 'Malformed request' })
    try {
      post('result', request.id, await handlers[request.type](request.payload))
    } catch (error) {
      const code = /^[a-z_]{1,32}$/.test(error?.code) ? error.code : 'internal'
      if (code == 'unauthorized') {
        sessions.clear()
        announce()
      }
      post('error', request.id, { code, message: String(error?.message).slice(0, 200) })
    }
  }
  post('ready', randomId(), await feed.current())
  early.forEach(accept)
  early = null
  return true
}

/**
 * Whether this listener may serve `parentOrigin`: valid parameters, inside a
 * frame, and the origin registered for the product (exact string match).
 * @returns {Promise<boolean>}
 */
async function isAllowed(api, productId, parentOrigin, win) {
  if (!PRODUCT_ID.test(productId) || !isOrigin(parentOrigin) || win.parent === win) return false
  try {
    const { origins } = await api.origins(productId)
    return Array.isArray(origins) && origins.includes(parentOrigin)
  } catch {
    return false
  }
}

/** @param {string} value @returns {boolean} an origin exactly as event.origin would spell it */
function isOrigin(value) {
  try {
    return new URL(value).origin === value && value != 'null'
  } catch {
    return false
  }
}
