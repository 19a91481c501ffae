/**
 * Classic <script> entry: exposes window.Cascade and turns the snippet stub
 * (window.cascade, which only queues its arguments) into the real thing,
 * replaying what the page called before this script arrived:
 *
 *   cascade('init', options)        -> Cascade.init(options)
 *   cascade('<method>', ...args)    -> client.<method>(...args), returns its result
 *   cascade(function (client) {})   -> called with the client once it exists
 */
import { CascadeError } from './errors.js'
import { init } from './init.js'

const METHODS = [
  'sendInteraction',
  'trackPurchase',
  'createReferralLink',
  'watchWalletStatus',
  'openWallet',
]

if (!window.Cascade) {
  const stub = window.cascade
  let client
  let onError
  /** @type {unknown[][]} calls made before `init` */
  const early = []

  const fail = (error) => {
    try {
      onError ? onError(error.reason, error) : console.error(error)
    } catch {
      // the host's callback failed: nowhere left to report it
    }
  }

  const call = (args) => {
    const [name, ...rest] = args
    if (name == 'init') {
      try {
        onError = typeof rest[0]?.onError == 'function' ? rest[0].onError : undefined
        client = init(rest[0])
      } catch (error) {
        return fail(error)
      }
      early.splice(0).forEach(call)
      return client
    }
    if (!client) return void early.push(args)
    try {
      if (typeof name == 'function') return name(client)
      if (METHODS.includes(name)) return client[name](...rest)
      fail(new CascadeError('invalid_argument', `unknown method ${String(name)}`))
    } catch (error) {
      fail(new CascadeError('callback_failed', 'cascade callback threw', error))
    }
  }

  window.Cascade = { init }
  window.cascade = (...args) => call(args)
  ;(stub?.q || []).forEach((args) => call(Array.from(args)))
}
