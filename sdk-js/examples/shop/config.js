/**
 * The demo shop's configuration and the little state it shares (window.shop).
 *
 * Where the Cascade backend is and which product this shop is come from the
 * query (?backend=…&product=…&checkout=…) or from data attributes on <html>
 * (data-backend-url, data-product-id, data-checkout-url); the query wins, so
 * one static page can serve any backend and product. Runs before the snippet.
 */
;(function () {
  const params = new URLSearchParams(location.search)
  const data = document.documentElement.dataset
  const pick = (param, attribute) => params.get(param) || data[attribute] || ''

  const shop = {
    /** e.g. "https://rewards.example" (no trailing slash) */
    backendUrl: pick('backend', 'backendUrl').replace(/\/+$/, ''),
    /** the product's id, 0x + 64 hex digits */
    productId: pick('product', 'productId'),
    /** optional: the shop's own server endpoint that takes payment for an order (see README.md) */
    checkoutUrl: pick('checkout', 'checkoutUrl'),
    /** the SDK client once cascade.js has loaded */
    client: null,
    /** what the SDK reported to onError, oldest first: { reason, message } */
    errors: [],
    /** every status watchWalletStatus delivered, oldest first */
    statuses: [],

    /** The SDK's onError: kept, and shown in the page's message list by shop.js. */
    onError(reason, error) {
      const entry = { reason, message: (error && error.message) || '' }
      shop.errors.push(entry)
      window.dispatchEvent(new CustomEvent('shop:error', { detail: entry }))
    },

    /** Add <script async src="{backend}/sdk/cascade.js">, the snippet's last line. */
    loadSdk() {
      if (!shop.backendUrl) return
      const script = document.createElement('script')
      script.async = true
      script.src = `${shop.backendUrl}/sdk/cascade.js`
      document.head.append(script)
    },
  }
  window.shop = shop
})()
