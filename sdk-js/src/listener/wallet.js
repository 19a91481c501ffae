/**
 * Wallet binding: prove control of a wallet by signing the server-issued
 * Sign-In with Ethereum message (EIP-191 personal_sign) with an injected
 * EIP-1193 provider.
 */
import { ListenerError } from './errors.js'

/**
 * @param {string} text
 * @returns {string} 0x-prefixed hex of the UTF-8 bytes (personal_sign's canonical input)
 */
export const utf8ToHex = (text) =>
  '0x' + Array.from(new TextEncoder().encode(text), (b) => b.toString(16).padStart(2, '0')).join('')

/**
 * @param {import('./api.js').Api} api
 * @param {{ request: (args: { method: string, params?: unknown[] }) => Promise<any> } | undefined} ethereum
 * @returns {Promise<{ wallet: string, challenge_id: string, signature: string }>}
 *   the proof that register/options expects
 */
export async function proveWallet(api, ethereum) {
  if (!ethereum?.request) throw new ListenerError('unsupported', 'No wallet found in this browser')
  const ask = async (method, params) => {
    try {
      return await ethereum.request({ method, params })
    } catch (error) {
      // EIP-1193 code 4001: the user said no
      if (error?.code == 4001) throw new ListenerError('cancelled', 'Request refused in the wallet', error)
      throw new ListenerError('rejected', 'The wallet failed', error)
    }
  }
  const [wallet] = await ask('eth_requestAccounts')
  if (typeof wallet != 'string') throw new ListenerError('rejected', 'The wallet returned no account')
  const { challenge_id, message } = await api.walletChallenge({ wallet })
  const signature = await ask('personal_sign', [utf8ToHex(message), wallet])
  return { wallet, challenge_id, signature }
}
