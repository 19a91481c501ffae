/**
 * The passkey session: a bearer token in the listener origin's own storage.
 * It never leaves the listener: no message to the host page ever carries it.
 */
import { isObject } from '../util.js'

export const SESSION_KEY = 'cascade:session'
const WALLET = /^0x[0-9a-fA-F]{40}$/

/** @typedef {{ token: string, wallet: string, expires_at: string }} Session */

/**
 * The session part of login/verify and register/verify answers; null if malformed.
 * @param {unknown} value
 * @returns {Session | null}
 */
export function readSession(value) {
  if (
    !isObject(value) ||
    typeof value.token != 'string' ||
    !value.token ||
    typeof value.wallet != 'string' ||
    !WALLET.test(value.wallet) ||
    !(Date.parse(value.expires_at) > 0)
  ) {
    return null
  }
  return { token: value.token, wallet: value.wallet, expires_at: value.expires_at }
}

/**
 * @param {Pick<Storage, 'getItem' | 'setItem' | 'removeItem'> | null} storage
 *   null or failing: the session lives in memory, for this page only
 */
export function createSessionStore(storage) {
  /** @type {Session | null} */
  let memory = null
  const attempt = (work) => {
    try {
      return storage ? work(storage) : undefined
    } catch {
      return undefined
    }
  }
  const clear = () => {
    memory = null
    attempt((s) => s.removeItem(SESSION_KEY))
  }
  return {
    /** @returns {Session | null} the session, unless missing or expired */
    read() {
      const stored = attempt((s) => JSON.parse(s.getItem(SESSION_KEY)))
      const session = stored === undefined ? memory : readSession(stored)
      if (session && Date.parse(session.expires_at) <= Date.now()) {
        clear()
        return null
      }
      return session
    },
    /** @param {Session} session */
    save(session) {
      memory = session
      attempt((s) => s.setItem(SESSION_KEY, JSON.stringify(session)))
    },
    clear,
  }
}

/** @typedef {ReturnType<typeof createSessionStore>} SessionStore */
