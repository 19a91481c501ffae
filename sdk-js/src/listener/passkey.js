/**
 * Passkey sign-in and sign-up, each a short ceremony: options from the
 * backend, the browser's WebAuthn prompt, verification by the backend, which
 * answers with the listener's session. Two ways to sign up: a new wallet that
 * is the passkey's own account (no browser wallet needed), or a wallet the
 * user already has, bound to a new passkey by a signature.
 */
import { ListenerError } from './errors.js'
import { readSession } from './session.js'
import { proveWallet } from './wallet.js'
import {
  authenticationToJSON,
  registrationToJSON,
  toCreationOptions,
  toRequestOptions,
} from './webauthn.js'

/**
 * @typedef {object} PasskeyEnv
 * @property {import('./api.js').Api} api
 * @property {CredentialsContainer | undefined} credentials navigator.credentials
 * @property {() => any} getEthereum the injected EIP-1193 provider, if any
 */

/**
 * Run a WebAuthn prompt; the user dismissing it is "cancelled", not a failure.
 * @param {() => Promise<Credential | null>} prompt
 */
async function ask(prompt) {
  let credential
  try {
    credential = await prompt()
  } catch (error) {
    if (error?.name == 'NotAllowedError' || error?.name == 'AbortError') {
      throw new ListenerError('cancelled', 'Passkey prompt dismissed', error)
    }
    throw new ListenerError('rejected', 'Passkey failed', error)
  }
  if (!credential) throw new ListenerError('cancelled', 'No passkey chosen')
  return credential
}

const sessionFrom = (answer) => {
  const session = readSession(answer)
  if (!session) throw new ListenerError('network', 'Malformed session from the backend')
  return session
}

const requireWebAuthn = (credentials, method = 'get') => {
  if (!credentials?.[method]) throw new ListenerError('unsupported', 'Passkeys are not available here')
}

/**
 * Sign in with an existing (discoverable) passkey.
 * @param {PasskeyEnv} env
 * @returns {Promise<import('./session.js').Session>}
 */
export async function signInWithPasskey({ api, credentials }) {
  requireWebAuthn(credentials)
  const options = await api.loginOptions()
  const credential = await ask(() => credentials.get({ publicKey: toRequestOptions(options) }))
  return sessionFrom(await api.loginVerify({ credential: authenticationToJSON(credential) }))
}

/**
 * Create a wallet from a new passkey: the backend derives the passkey's account
 * address (counterfactual: paid before it exists) and signs in to it.
 * @param {PasskeyEnv} env
 * @returns {Promise<import('./session.js').Session>}
 */
export async function createPasskeyWallet({ api, credentials }) {
  requireWebAuthn(credentials, 'create')
  const options = await api.signupOptions()
  const credential = await ask(() => credentials.create({ publicKey: toCreationOptions(options) }))
  return sessionFrom(
    await api.signupVerify({ credential: registrationToJSON(credential), kind: 'listener' }),
  )
}

/**
 * Bind a wallet (signature) to a new passkey, which also signs in.
 * @param {PasskeyEnv} env
 * @returns {Promise<import('./session.js').Session>}
 */
export async function registerPasskey({ api, credentials, getEthereum }) {
  requireWebAuthn(credentials, 'create')
  const proof = await proveWallet(api, getEthereum())
  const options = await api.registerOptions(proof)
  const credential = await ask(() => credentials.create({ publicKey: toCreationOptions(options) }))
  return sessionFrom(await api.registerVerify({ credential: registrationToJSON(credential) }))
}
