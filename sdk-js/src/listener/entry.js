/** dist/listener.js: loaded by the backend's /listener page (see PROTOCOL.md). */
import { startListener } from './listener.js'

let storage = null
try {
  storage = window.localStorage
} catch {
  // storage blocked: the session lives in memory for this page
}

startListener({
  window,
  fetch: (...args) => fetch(...args),
  storage,
  credentials: navigator.credentials,
  getEthereum: () => window.ethereum,
  EventSource: window.EventSource,
})
