// Minimal stand-ins for the browser pieces the SDK and the listener touch:
// enough DOM, storage, postMessage and fetch to run them in node, no jsdom.

/** A Storage backed by a Map; `failing` makes every call throw (blocked storage, full quota). */
export class FakeStorage {
  constructor(entries = {}) {
    this.map = new Map(Object.entries(entries))
    this.failing = null // null | 'all' | 'write'
  }
  check(write) {
    if (this.failing == 'all' || (write && this.failing == 'write')) {
      throw Object.assign(new Error('QuotaExceededError'), { name: 'QuotaExceededError' })
    }
  }
  getItem(key) {
    this.check(false)
    return this.map.has(key) ? this.map.get(key) : null
  }
  setItem(key, value) {
    this.check(true)
    this.map.set(key, String(value))
  }
  removeItem(key) {
    this.check(true)
    this.map.delete(key)
  }
  json(key) {
    return JSON.parse(this.map.get(key))
  }
}

/** A window that records what is posted to it. */
export class FakeWindow {
  constructor() {
    this.posted = []
    this.listeners = {}
  }
  postMessage(message, targetOrigin) {
    // structuredClone, like the browser: functions or cycles would throw here too
    this.posted.push({ message: structuredClone(message), targetOrigin })
  }
  addEventListener(type, listener) {
    ;(this.listeners[type] ||= []).push(listener)
  }
  dispatch(type, event) {
    ;(this.listeners[type] || []).forEach((listener) => listener(event))
  }
}

export class FakeElement {
  constructor(tagName) {
    this.tagName = tagName.toUpperCase()
    this.style = {}
    this.attributes = {}
    this.children = []
    this.parent = null
    this.listeners = {}
    this.textContent = ''
    if (this.tagName == 'IFRAME') this.contentWindow = new FakeWindow()
  }
  setAttribute(name, value) {
    this.attributes[name] = String(value)
  }
  removeAttribute(name) {
    delete this.attributes[name]
  }
  appendChild(child) {
    child.remove()
    child.parent = this
    this.children.push(child)
    return child
  }
  append(...children) {
    children.forEach((child) => this.appendChild(child))
  }
  replaceChildren(...children) {
    this.children.slice().forEach((child) => child.remove())
    this.append(...children)
  }
  remove() {
    if (!this.parent) return
    this.parent.children = this.parent.children.filter((child) => child !== this)
    this.parent = null
  }
  addEventListener(type, listener) {
    ;(this.listeners[type] ||= []).push(listener)
  }
  click() {
    ;(this.listeners.click || []).forEach((listener) => listener({ type: 'click' }))
  }
  focus() {}
  /** every descendant, depth first */
  *all() {
    for (const child of this.children) {
      yield child
      yield* child.all()
    }
  }
  find(predicate) {
    for (const node of this.all()) if (predicate(node)) return node
    return null
  }
  button(label) {
    return this.find((node) => node.tagName == 'BUTTON' && node.textContent == label)
  }
}

export class FakeDocument {
  constructor() {
    this.body = new FakeElement('body')
  }
  createElement(tag) {
    return new FakeElement(tag)
  }
  addEventListener() {}
}

export const PRODUCT_ID = '0x' + 'ab'.repeat(32)
export const BACKEND = 'https://rewards.example'
export const SHOP = 'https://shop.example'
export const WALLET = '0x' + '11'.repeat(20)
export const REFERRER = '0x' + '22'.repeat(20)
export const TOKEN = '0x' + '33'.repeat(20)
export const REFERRAL_TOKEN = 'v1.eyJyZWYiOiIweDIyIn0.c2lnbmF0dXJlLWJ5dGVz'

/**
 * The host page: location, history, storage, postMessage events, timers.
 * @param {{ href?: string, storage?: FakeStorage }} [options]
 */
export function hostWindow({ href = `${SHOP}/shop?item=7`, storage = new FakeStorage() } = {}) {
  const win = new FakeWindow()
  const url = new URL(href)
  win.document = new FakeDocument()
  win.localStorage = storage
  win.location = {
    get href() {
      return url.href
    },
    get origin() {
      return url.origin
    },
  }
  win.history = {
    state: { page: 1 },
    calls: [],
    replaceState(state, title, next) {
      this.calls.push([state, title, next])
      url.href = new URL(next, url).href
    },
  }
  win.setTimeout = (...args) => setTimeout(...args)
  win.clearTimeout = (id) => clearTimeout(id)
  return win
}

/** The iframe the SDK created in `win`. */
export const frameOf = (win) => win.document.body.find((node) => node.tagName == 'IFRAME')

/** Deliver a message to the host page as if the listener iframe posted it. */
export function fromListener(win, type, id, payload, overrides = {}) {
  win.dispatch('message', {
    origin: BACKEND,
    source: frameOf(win).contentWindow,
    data: { cascade: 1, id, type, payload },
    ...overrides,
  })
}

/** Let pending promise callbacks run. */
export const settle = () => new Promise((resolve) => setImmediate(resolve))

/** A fetch that answers from `routes` ("METHOD /path" -> handler) and records requests. */
export function fakeFetch(routes) {
  const calls = []
  const fetch = async (url, init = {}) => {
    const { pathname } = new URL(url)
    const call = {
      method: init.method || 'GET',
      path: pathname,
      headers: init.headers || {},
      body: init.body ? JSON.parse(init.body) : undefined,
      credentials: init.credentials,
    }
    calls.push(call)
    const route = routes[`${call.method} ${pathname}`]
    if (!route) return response(404, { error: { code: 'not_found', message: 'no route' } })
    const answer = await route(call)
    return answer instanceof Error ? Promise.reject(answer) : answer
  }
  return { fetch, calls }
}

export const response = (status, body) => ({
  ok: status >= 200 && status < 300,
  status,
  json: async () => {
    if (body === undefined) throw new SyntaxError('Unexpected end of JSON input')
    return body
  },
})
