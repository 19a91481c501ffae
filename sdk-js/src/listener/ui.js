/**
 * The panel the user sees when the SDK shows the listener in its modal:
 * sign in with a passkey, bind a wallet to a new passkey, sign out, close.
 */
import { ListenerError } from './errors.js'

const STYLE = `
body{margin:0;font:15px/1.4 system-ui,sans-serif;color:#111;background:#fff}
.cascade{padding:24px;display:flex;flex-direction:column;gap:12px}
.cascade h1{font-size:18px;margin:0 0 8px}
.cascade button{font:inherit;padding:10px 14px;border-radius:8px;border:1px solid #bbb;background:#f6f6f6;cursor:pointer}
.cascade button.primary{background:#111;color:#fff;border-color:#111}
.cascade button:disabled{opacity:.5;cursor:wait}
.cascade [role=status]{min-height:1.4em;margin:0;color:#a00}`

const short = (wallet) => `${wallet.slice(0, 6)}…${wallet.slice(-4)}`

/**
 * @param {Document} doc the listener page's document
 * @param {object} actions
 * @param {() => Promise<{ wallet: string }>} actions.signIn
 * @param {() => Promise<{ wallet: string }>} actions.register
 * @param {() => Promise<void>} actions.signOut
 * @param {() => string | null} actions.wallet the wallet signed in now
 */
export function createPanel(doc, { signIn, register, signOut, wallet }) {
  const el = (tag, props = {}) => Object.assign(doc.createElement(tag), props)
  const style = el('style', { textContent: STYLE })
  const root = el('main', { className: 'cascade' })
  const note = el('p', { role: 'status' })
  const buttons = el('div', { className: 'cascade' })
  root.append(el('h1', { textContent: 'Your rewards' }), note, buttons)
  /** @type {{ resolve: (value: { wallet: string }) => void, reject: (error: Error) => void } | null} */
  let pending = null
  let busy = false

  const button = (label, onClick, primary) => {
    const node = el('button', { type: 'button', textContent: label, disabled: busy })
    if (primary) node.className = 'primary'
    node.addEventListener('click', onClick)
    return node
  }

  function render() {
    const current = wallet()
    buttons.replaceChildren(
      ...(current
        ? [
            el('p', { textContent: `Signed in as ${short(current)}` }),
            button('Done', () => finish(current), true),
            button('Sign out', () => run(signOut)),
          ]
        : [
            button('Sign in with a passkey', () => run(signIn), true),
            button('Create a passkey with my wallet', () => run(register)),
          ]),
      button('Close', cancel),
    )
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
      // a dismissed prompt needs no message; anything else says what failed
      note.textContent = error.code == 'cancelled' ? '' : error.message
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
