/**
 * The message format between the SDK (host page) and the listener (iframe on
 * the backend's origin). PROTOCOL.md is the prose version of this file.
 *
 * Every message: { cascade: 1, id, type, payload }. Requests go SDK -> listener
 * and are answered by one "result" or "error" with the same id; "ready" and
 * "status" are pushed by the listener. Anything that does not match exactly is
 * ignored: validation copies only known fields, so nothing unexpected reaches
 * the host's callbacks or the backend.
 */
import { isObject, pick } from './util.js'

export const VERSION = 1
/** SDK -> listener */
export const REQUEST_TYPES = ['interaction', 'createReferralLink', 'walletStatus', 'openWallet']
/** listener -> SDK */
export const REPLY_TYPES = ['ready', 'status', 'result', 'error']

const ID = /^[\w-]{1,64}$/
const WALLET = /^0x[0-9a-fA-F]{40}$/
const AMOUNT = /^\d{1,78}$/
// an ISO 8601 UTC or offset timestamp, as the backend writes `queued_expected_by`
const MOMENT = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|[+-]\d{2}:\d{2})$/
const TYPE = /^[a-z][a-z0-9_]*(\.[a-z0-9_]+)*$/
const CODE = /^[a-z_]{1,32}$/

/** Interaction types: lower-case dotted words, at most 64 characters. */
export const isInteractionType = (value) =>
  typeof value == 'string' && value.length <= 64 && TYPE.test(value)

/** Interaction data, as JSON, may not be longer than this. */
export const MAX_DATA_CHARS = 4096

/**
 * Plain JSON of bounded size, or null (cycles, BigInt, too long...).
 * @param {unknown} value
 * @returns {Record<string, unknown> | null} a fresh copy, safe to store and to post
 */
export function toSmallJson(value) {
  try {
    const json = JSON.stringify(value)
    return isObject(value) && json.length <= MAX_DATA_CHARS ? JSON.parse(json) : null
  } catch {
    return null
  }
}

const isString = (value, max) => typeof value == 'string' && value.length <= max
const isMoment = (value) => typeof value == 'string' && MOMENT.test(value) && !Number.isNaN(Date.parse(value))
const isHttpUrl = (value) => isString(value, 2048) && /^https?:\/\/[^\s]+$/.test(value)

/**
 * @param {string} type
 * @param {string} id
 * @param {Record<string, unknown>} payload
 */
export const envelope = (type, id, payload) => ({ cascade: VERSION, id, type, payload })

/**
 * @typedef {object} TokenStatus amounts are decimal strings in base units
 * @property {string} token @property {string | null} symbol @property {number | null} decimals
 * (null when the product has not registered the token)
 * @property {string} claimable @property {string} queued @property {string} claimed_total
 * @property {string} [under_review] held for a fraud review: neither queued nor claimable
 *   (absent when the backend does not send it)
 * @property {string | null} [queued_expected_by] ISO time by which the queued amount should
 *   be on-chain (its campaigns' settlement cadence); null when nothing waits or no promise
 */
/** @typedef {{ wallet: string | null, tokens: TokenStatus[] }} Status */

const AMOUNTS = ['claimable', 'queued', 'claimed_total']
const TOKEN_FIELDS = ['token', 'symbol', 'decimals', ...AMOUNTS]

/**
 * @param {unknown} payload
 * @returns {Status | null}
 */
export function readStatus(payload) {
  if (!isObject(payload) || !Array.isArray(payload.tokens)) return null
  const { wallet } = payload
  if (wallet !== null && !(typeof wallet == 'string' && WALLET.test(wallet))) return null
  const tokens = []
  for (const entry of payload.tokens) {
    if (
      !isObject(entry) ||
      !(typeof entry.token == 'string' && WALLET.test(entry.token)) ||
      !(entry.symbol === null || isString(entry.symbol, 32)) ||
      !(entry.decimals === null || (Number.isInteger(entry.decimals) && entry.decimals >= 0 && entry.decimals <= 36)) ||
      !AMOUNTS.every((name) => typeof entry[name] == 'string' && AMOUNT.test(entry[name]))
    ) {
      return null
    }
    const fields = [...TOKEN_FIELDS]
    if (typeof entry.under_review == 'string' && AMOUNT.test(entry.under_review)) fields.push('under_review')
    if (isMoment(entry.queued_expected_by) || entry.queued_expected_by === null) fields.push('queued_expected_by')
    tokens.push(pick(entry, fields))
  }
  return { wallet, tokens }
}

/** What a "result" carries, per request type; null when malformed. */
export const RESULT_READERS = {
  /** @returns {{ interaction_id: string | number, duplicate: boolean, rewards: unknown[] } | null} */
  interaction: (p) =>
    isObject(p) &&
    (isString(p.interaction_id, 64) || Number.isSafeInteger(p.interaction_id)) &&
    typeof p.duplicate == 'boolean' &&
    Array.isArray(p.rewards)
      ? pick(p, ['interaction_id', 'duplicate', 'rewards'])
      : null,
  /** @returns {{ link: string } | null} */
  createReferralLink: (p) => (isObject(p) && isHttpUrl(p.link) ? { link: p.link } : null),
  walletStatus: readStatus,
  /** @returns {{ wallet: string } | null} */
  openWallet: (p) =>
    isObject(p) && typeof p.wallet == 'string' && WALLET.test(p.wallet) ? { wallet: p.wallet } : null,
}

/**
 * Accept a message in the host page only if it comes from the backend's origin
 * AND from our own iframe's window, and has the exact shape of a listener reply.
 * @param {{ origin: string, source: unknown, data: unknown }} event a MessageEvent
 * @param {string} origin the backend origin
 * @param {unknown} source our iframe's contentWindow
 * @returns {{ id: string, type: string, payload: any } | null}
 */
export function readListenerMessage(event, origin, source) {
  if (event.origin !== origin || !source || event.source !== source) return null
  const message = event.data
  if (!hasEnvelope(message) || !REPLY_TYPES.includes(message.type)) return null
  const { id, type, payload } = message
  if (type == 'ready' || type == 'status') {
    const status = readStatus(payload)
    return status && { id, type, payload: status }
  }
  if (type == 'error') {
    if (!(typeof payload.code == 'string' && CODE.test(payload.code))) return null
    if (payload.message !== undefined && !isString(payload.message, 500)) return null
    return { id, type, payload: pick(payload, ['code', 'message']) }
  }
  return { id, type, payload } // "result": read by RESULT_READERS once its request is known
}

/** What each request carries; null when malformed. */
const REQUEST_READERS = {
  interaction: (p) => {
    const data = toSmallJson(p.data)
    if (!(isInteractionType(p.type) && data && isString(p.dedup_key, 255) && p.dedup_key != '')) return null
    const request = { type: p.type, data, dedup_key: p.dedup_key }
    // optional: unix seconds the referral link was opened (a malformed value is dropped)
    return Number.isSafeInteger(p.opened_at) && p.opened_at > 0 ? { ...request, opened_at: p.opened_at } : request
  },
  createReferralLink: (p) => (isHttpUrl(p.url) ? { url: p.url } : null),
  walletStatus: () => ({}),
  openWallet: () => ({}),
}

/**
 * Accept a request in the listener only from the embedding page's origin (which
 * the backend has registered for the product) and from the parent window.
 * @param {{ origin: string, source: unknown, data: unknown }} event
 * @param {string} parentOrigin an origin already checked against the product's origins
 * @param {unknown} parent window.parent
 * @returns {{ id: string, type: string, payload: any } | { id: string, invalid: true } | null}
 *   `invalid` when a genuine peer sent a malformed request: it gets an error reply
 */
export function readClientMessage(event, parentOrigin, parent) {
  if (event.origin !== parentOrigin || event.source !== parent) return null
  const message = event.data
  if (!hasEnvelope(message) || !REQUEST_TYPES.includes(message.type)) return null
  const payload = REQUEST_READERS[message.type](message.payload)
  return payload
    ? { id: message.id, type: message.type, payload }
    : { id: message.id, invalid: true }
}

const hasEnvelope = (message) =>
  isObject(message) &&
  message.cascade === VERSION &&
  typeof message.id == 'string' &&
  ID.test(message.id) &&
  typeof message.type == 'string' &&
  isObject(message.payload)
