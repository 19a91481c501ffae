/**
 * The demo shop's page logic: every Cascade call goes through the snippet's
 * `cascade(...)`, so it works the same before and after cascade.js loads.
 *
 * Buy      -> client.trackPurchase(orderId, checkoutToken)
 *                                             ("purchase.started" for the connected wallet)
 * Pay      -> POST {checkout URL}             (the shop's server; its platform then sends
 *                                              the signed orders/paid webhook to Cascade,
 *                                              carrying the same checkout token)
 * Share    -> client.createReferralLink()     (this page's URL with ?cascade=<token>)
 * Wallet   -> client.watchWalletStatus(...)   (claimable and queued rewards per token)
 *             client.openWallet()             (the listener's passkey panel)
 */
;(function () {
  const shop = window.shop
  const $ = (id) => document.getElementById(id)
  const el = (tag, props) => Object.assign(document.createElement(tag), props)

  // -- messages (the SDK's onError) ------------------------------------------------------

  const log = (text) => $('log').append(el('li', { textContent: text }))
  shop.errors.forEach(({ reason, message }) => log(`${reason}: ${message}`))
  window.addEventListener('shop:error', ({ detail }) => log(`${detail.reason}: ${detail.message}`))

  if (!shop.backendUrl || !shop.productId) {
    $('setup').hidden = false
    return
  }

  // -- wallet widget ---------------------------------------------------------------------

  const short = (wallet) => `${wallet.slice(0, 6)}…${wallet.slice(-4)}`

  /**
   * A base-unit amount (decimal string) in whole tokens, for people: "5", "0.25".
   * BigInt throughout: an 18-decimal amount does not fit a double.
   */
  function formatUnits(amount, decimals) {
    const unit = 10n ** BigInt(decimals)
    const value = BigInt(amount)
    const fraction = (value % unit).toString().padStart(decimals, '0').slice(0, 6).replace(/0+$/, '')
    return (value / unit).toString() + (fraction ? `.${fraction}` : '')
  }

  function renderStatus({ wallet, tokens }) {
    shop.statuses.push({ wallet, tokens })
    $('wallet').dataset.wallet = wallet || ''
    $('wallet-address').textContent = wallet ? short(wallet) : 'Not connected'
    $('open-wallet').textContent = wallet ? 'Open wallet' : 'Connect wallet'
    const rows = tokens.map((token) => {
      const row = el('li', {
        textContent:
          `${formatUnits(token.claimable, token.decimals)} ${token.symbol} claimable · ` +
          `${formatUnits(token.queued, token.decimals)} ${token.symbol} queued`,
      })
      row.dataset.token = token.token
      row.dataset.claimable = token.claimable
      row.dataset.queued = token.queued
      return row
    })
    if (wallet && !rows.length) rows.push(el('li', { textContent: 'No rewards yet' }))
    $('wallet-tokens').replaceChildren(...rows)
  }

  // -- the order: Buy tracks it, Pay has the shop's server take the payment --------------

  const product = $('product').dataset

  /**
   * An order id shaped like a shop platform's: 19 digits. Kept as a string: ids this
   * long are above 2^53, and a JavaScript number would silently round them.
   */
  const newOrderId = () =>
    String(Date.now()) + String(Math.floor(Math.random() * 1e6)).padStart(6, '0')

  /**
   * The checkout's token, as a shop platform gives it to the buyer's page (Shopify:
   * 32 hex characters) and signs again in its order webhook: it binds this browser's
   * claim to the order, so guessing an order id earns nobody anything.
   */
  const newCheckoutToken = () =>
    Array.from(crypto.getRandomValues(new Uint8Array(16)), (b) => b.toString(16).padStart(2, '0')).join('')

  function showOrder(orderId, state, text) {
    const panel = $('order')
    panel.hidden = false
    panel.dataset.orderId = orderId
    panel.dataset.state = state
    $('order-text').textContent = `Order ${orderId}: ${text}`
  }

  async function buy(client) {
    const orderId = newOrderId()
    const checkoutToken = newCheckoutToken()
    const payButton = $('pay')
    payButton.hidden = !shop.checkoutUrl
    payButton.disabled = false
    payButton.onclick = () => pay(orderId, checkoutToken)
    const wallet = $('wallet').dataset.wallet
    $('order').dataset.checkoutToken = checkoutToken
    showOrder(
      orderId,
      'started',
      wallet ? 'checkout started.' : 'checkout started; connect your wallet to earn rewards.',
    )
    const answer = await client.trackPurchase(orderId, checkoutToken)
    if ($('order').dataset.orderId != orderId) return // a newer order replaced this one
    $('order').dataset.tracked = answer ? 'yes' : 'no'
    $('order-text').textContent +=
      ` ${answer ? 'Tracked for your wallet.' : 'Not tracked (see the messages).'}`
  }

  async function pay(orderId, checkoutToken) {
    $('pay').disabled = true
    let response
    try {
      response = await fetch(shop.checkoutUrl, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({
          order_id: orderId,
          checkout_token: checkoutToken,
          total_price: product.price,
          currency: product.currency,
        }),
      })
    } catch (error) {
      response = null
      log(`checkout failed: ${error.message}`)
    }
    const paid = response && response.ok
    showOrder(orderId, paid ? 'paid' : 'failed', paid ? 'paid, thank you!' : 'payment failed.')
    $('pay').hidden = paid
    $('pay').disabled = paid
  }

  // -- share link ------------------------------------------------------------------------

  async function share(client) {
    const link = await client.createReferralLink()
    $('share-panel').hidden = false
    $('share-link').value = link || ''
    $('share-text').textContent = link
      ? 'Send this link to a friend.'
      : 'Connect your wallet first to get your own link.'
  }

  // -- wiring: runs with the client once cascade.js has loaded ---------------------------

  cascade(function (client) {
    shop.client = client
    client.watchWalletStatus(renderStatus)
    $('open-wallet').onclick = () => client.openWallet()
    $('buy').onclick = () => buy(client)
    $('share').onclick = () => share(client)
    for (const id of ['open-wallet', 'buy', 'share']) $(id).disabled = false
  })
})()
