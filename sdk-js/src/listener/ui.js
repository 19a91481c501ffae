/**
 * The panel the user sees when the SDK shows the listener in its modal.
 * Signed out, two ways in: "Create your wallet with a passkey" (no browser
 * wallet needed) and "Use a wallet I already have" (bind it to a new passkey);
 * the one that fits this browser comes first: the passkey wallet when no
 * wallet is injected, the injected wallet when there is one. "Sign in with
 * your passkey" serves returning users. Signed in: the wallet, a link to the
 * wallet page (balances, gasless claim, send), Done, Sign out.
 */
import { ListenerError } from './errors.js'

const STYLE = `
body{margin:0;font:15px/1.4 system-ui,sans-serif;color:#111;background:#fff}
.cascade{padding:24px;display:flex;flex-direction:column;gap:12px;max-width:420px;margin:0 auto}
.cascade .cascade{padding:0}
.cascade h1{font-size:18px;margin:0 0 8px}
.cascade p{margin:0}
.cascade .hint{color:#555;font-size:13px}
.cascade button{font:inherit;padding:10px 14px;border-radius:8px;border:1px solid #bbb;background:#f6f6f6;cursor:pointer;min-height:44px}
.cascade button.primary{background:#111;color:#fff;border-color:#111}
.cascade button:disabled{opacity:.5;cursor:wait}
.cascade a{color:#0645ad;padding:10px 0}
.cascade [role=status]{min-height:1.4em;margin:0;color:#a00}`

const short = (wallet) => `${wallet.slice(0, 6)}…${wallet.slice(-4)}`

/**
 * @param {Document} doc the listener page's document
 * @param {object} actions
 * @param {() => Promise<{ wallet: string }>} actions.signIn discoverable passkey
 * @param {() => Promise<{ wallet: string }>} actions.createWallet a new passkey whose account is the wallet
 * @param {() => Promise<{ wallet: string }>} actions.register an injected wallet bound to a new passkey
 * @param {() => Promise<void>} actions.signOut
 * @param {() => string | null} actions.wallet the wallet signed in now
 * @param {() => boolean} actions.hasInjectedWallet whether window.ethereum exists
 * @param {(wallet: string) => string} actions.walletPage the wallet page's URL for a wallet
 */
export function createPanel(doc, { signIn, createWallet, register, signOut, wallet, hasInjectedWallet, walletPage }) {
  const el = (tag, props = {}) => Object.assign(doc.createElement(tag), props)
  const style = el('style', { textContent: STYLE })
  const root = el('main', { className: 'cascade' })
  const heading = el('h1', { id: 'cascade-title', textContent: 'Your rewards' })
  const note = el('p', { role: 'status' })
  const buttons = el('div', { className: 'cascade' })
  root.setAttribute('aria-labelledby', 'cascade-title')
  root.append(heading, note, buttons)
  /** @type {{ resolve: (value: { wallet: string }) => void, reject: (error: Error) => void } | null} */
  let pending = null
  let busy = false

  const button = (label, onClick, primary) => {
    const node = el('button', { type: 'button', textContent: label, disabled: busy })
    if (primary) node.className = 'primary'
    node.addEventListener('click', onClick)
    return node
  }
  const hint = (id, text) => el('p', { id, className: 'hint', textContent: text })

  function signedOut() {
    const injected = hasInjectedWallet()
    const create = button('Create your wallet with a passkey', () => run(createWallet), !injected)
    create.setAttribute('aria-describedby', 'cascade-create-hint')
    const existing = button('Use a wallet I already have', () => run(register), injected)
    existing.setAttribute('aria-describedby', 'cascade-existing-hint')
    const createHint = hint(
      'cascade-create-hint',
      'No app, no seed phrase: a passkey on this device controls your wallet, and fees are paid for you.',
    )
    const existingHint = hint('cascade-existing-hint', 'Sign once with your browser wallet to link it to a passkey.')
    const choices = injected ? [existing, existingHint, create, createHint] : [create, createHint, existing, existingHint]
    return [...choices, el('p', { textContent: 'Already have a passkey?' }), button('Sign in with your passkey', () => run(signIn))]
  }

  function signedIn(current) {
    const link = el('a', { href: walletPage(current), target: '_blank', rel: 'noopener', textContent: 'Open your wallet' })
    link.setAttribute('aria-describedby', 'cascade-wallet-hint')
    return [
      el('p', { textContent: `Signed in as ${short(current)}` }),
      link,
      hint('cascade-wallet-hint', 'See what you hold, claim without fees, send to a friend.'),
      button('Done', () => finish(current), true),
      button('Sign out', () => run(signOut)),
    ]
  }

  function render() {
    const current = wallet()
    root.setAttribute('aria-busy', String(busy))
    buttons.replaceChildren(...(current ? signedIn(current) : signedOut()), button('Close', cancel))
  }

  async function run(action) {
    if (busy) return
    busy = true
    note.textContent = ''
    render()
    try {
      const session = await action()
      if (session) finish(session.wallet)
    } catch (error) {
      // a dismissed prompt needs no message; anything else says what failed, with the
      // backend's machine code when it refused (e.g. "… (passkey_rejected)")
      const refused = error.cause?.body?.error?.code
      note.textContent = error.code == 'cancelled' ? '' : refused ? `${error.message} (${refused})` : error.message
    } finally {
      busy = false
      if (pending) render()
    }
  }

  const settle = (outcome) => {
    const waiting = pending
    pending = null
    doc.body.replaceChildren()
    if (waiting) outcome(waiting)
  }
  const finish = (current) => settle(({ resolve }) => resolve({ wallet: current }))
  const cancel = () => settle(({ reject }) => reject(new ListenerError('cancelled', 'Closed')))

  return {
    /** @returns {Promise<{ wallet: string }>} rejects with code "cancelled" when closed */
    open() {
      cancel()
      note.textContent = ''
      doc.body.replaceChildren(style, root)
      render()
      return new Promise((resolve, reject) => {
        pending = { resolve, reject }
      })
    },
  }
}
