/**
 * The wallet status the listener reports to the SDK: { wallet, tokens }.
 * Fetched once when asked; streamed (Server-Sent Events) only after the SDK
 * sent "walletStatus", so pages that show no balance open no stream.
 */
import { readStatus } from '../protocol.js'

const NOBODY = { wallet: null, tokens: [] }

/**
 * @param {object} deps
 * @param {import('./api.js').Api} deps.api
 * @param {import('./session.js').SessionStore} deps.sessions
 * @param {typeof EventSource | undefined} deps.EventSource
 * @param {(status: import('../protocol.js').Status) => void} deps.onStatus called for each snapshot
 */
export function createStatusFeed({ api, sessions, EventSource, onStatus }) {
  /** @type {EventSource | null} */
  let stream = null
  let watching = false

  /** @returns {Promise<import('../protocol.js').Status>} never rejects */
  async function current() {
    const session = sessions.read()
    if (!session) return NOBODY
    try {
      const rewards = await api.rewards(session.wallet)
      return readStatus({ wallet: session.wallet, tokens: rewards.tokens }) ?? { ...NOBODY, wallet: session.wallet }
    } catch {
      return { ...NOBODY, wallet: session.wallet } // totals unknown for now; the wallet is not
    }
  }

  /** (Re)open the stream for the session's wallet, or close it. */
  function restart() {
    stream?.close()
    stream = null
    const session = sessions.read()
    if (!watching || !session || !EventSource) return
    const { wallet } = session
    stream = new EventSource(api.streamUrl(wallet))
    stream.addEventListener('snapshot', (event) => {
      let snapshot
      try {
        snapshot = JSON.parse(event.data)
      } catch {
        return
      }
      const sameWallet = String(snapshot?.wallet).toLowerCase() == wallet.toLowerCase()
      const status = sameWallet && readStatus({ wallet, tokens: snapshot.tokens })
      if (status) onStatus(status)
    })
  }

  return {
    current,
    restart,
    watch() {
      if (watching) return
      watching = true
      restart()
    },
  }
}
