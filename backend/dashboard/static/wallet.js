// The wallet page, enhanced. Without a browser wallet: create a wallet from a passkey
// (or sign in with one), see what the account holds, claim without gas, send with a
// passkey signature. With an injected EIP-1193 wallet: connect it and "Claim all" in
// one pullRewards(tokens) call it pays for. Either way the numbers follow the SSE stream.
// Without this file the page still shows the rewards for ?address=0x… (server-rendered).
;(() => {
  'use strict'
  const account = window.CascadeWallet
  const { formatUnits, parseUnits } = account
  const $ = (id) => document.getElementById(id)
  const root = $('wallet')
  const config = root.dataset
  const claimButton = $('claim-all')
  const connectButton = $('connect')
  const input = $('f-address')
  const state = { address: config.address || '', account: '', session: '', tokens: [], held: [], stream: null, busy: false }
  const say = (text) => { $('wallet-status').textContent = text }

  // --- formatting (matches the server's rendering) -------------------------------------
  const short = (value) => (value && value.length > 14 ? `${value.slice(0, 8)}…${value.slice(-4)}` : value || '–')
  const el = (tag, attrs = {}, ...children) => {
    const node = document.createElement(tag)
    for (const [key, value] of Object.entries(attrs)) {
      if (key === 'class') node.className = value
      else node.setAttribute(key, value)
    }
    for (const child of children) node.append(child instanceof Node ? child : document.createTextNode(String(child)))
    return node
  }
  const when = (iso) => {
    const d = new Date(iso)
    const pad = (n) => String(n).padStart(2, '0')
    return `${d.getUTCFullYear()}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())} ${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())} UTC`
  }
  /** A queued reward's promised time (the API's expected_by); a past one: the job is late. */
  const expected = (iso) => (new Date(iso) <= new Date() ? 'on-chain any moment now' : `on-chain by ${when(iso)}`)
  const txLink = (hash, url) => {
    if (!hash) return '–'
    const code = el('code', { title: hash }, short(hash))
    const href = url || (config.explorer ? `${config.explorer.replace(/\/$/, '')}/tx/${hash}` : '')
    return href ? el('a', { href, target: '_blank', rel: 'noopener' }, code) : code
  }
  const sameWallet = (a, b) => Boolean(a && b && a.toLowerCase() === b.toLowerCase())
  /** An API refusal as the user reads it: the backend's message, then its code. */
  const refusal = (error) => (error.status ? `${error.message} (${error.code})` : error.message)

  // --- rendering ---------------------------------------------------------------------
  function renderTokens(snapshot) {
    state.tokens = snapshot.tokens
    const body = $('token-rows')
    body.replaceChildren()
    if (!snapshot.tokens.length) {
      body.append(el('tr', { class: 'empty-row' }, el('td', { colspan: '4', class: 'muted' }, 'No rewards for this wallet yet.')))
    }
    for (const t of snapshot.tokens) {
      const claimable = el('td', { class: 'num', 'data-field': 'claimable' }, formatUnits(t.claimable, t.decimals))
      if (t.unconfirmed_claimable !== '0') {
        claimable.append(' ', el('span', { class: 'muted' }, `+ ${formatUnits(t.unconfirmed_claimable, t.decimals)} confirming`))
      }
      const queued = el('td', { class: 'num', 'data-field': 'queued' }, formatUnits(t.queued, t.decimals))
      if (t.under_review && t.under_review !== '0') {
        queued.append(' ', el('span', { class: 'muted', 'data-field': 'under-review' }, `+ ${formatUnits(t.under_review, t.decimals)} under review`))
      }
      if (t.queued_expected_by && t.queued !== '0') {
        queued.append(' ', el('span', { class: 'muted small', 'data-field': 'expected' }, expected(t.queued_expected_by)))
      }
      body.append(
        el('tr', { 'data-token': t.token },
          el('th', { scope: 'row' }, t.symbol || short(t.token)),
          claimable,
          queued,
          el('td', { class: 'num', 'data-field': 'claimed' }, formatUnits(t.claimed_total, t.decimals)),
        ),
      )
    }
    updateClaimButton()
  }

  function renderHistory(page) {
    const body = $('history-rows')
    body.replaceChildren()
    if (!page.items.length) body.append(el('tr', { class: 'empty-row' }, el('td', { colspan: '5', class: 'muted' }, 'Nothing yet.')))
    const meta = Object.fromEntries(state.tokens.map((t) => [t.token, t]))
    for (const item of page.items) {
      const m = meta[item.token] || {}
      const what = item.kind === 'claim'
        ? 'Claim'
        : el('span', {}, item.campaign.name, ' ', el('span', { class: 'muted' }, `· ${item.product.name}${item.level ? ` · referral level ${item.level}` : ''}`))
      body.append(
        el('tr', {},
          el('td', { class: 'nowrap' }, when(item.time)),
          el('td', {}, what),
          el('td', { class: 'num' }, formatUnits(item.amount, m.decimals, m.symbol)),
          el('td', {}, el('span', { class: `badge badge-${item.status}` }, item.status),
            ...(item.expected_by ? [' ', el('span', { class: 'muted small', 'data-field': 'expected' }, expected(item.expected_by))] : [])),
          el('td', {}, txLink(item.kind === 'reward' && item.claim_tx_hash ? item.claim_tx_hash : item.tx_hash)),
        ),
      )
    }
  }

  function renderBalances(answer) {
    state.held = answer.tokens
    $('holdings').hidden = false
    const body = $('balance-rows')
    body.replaceChildren()
    const held = answer.tokens.filter((t) => BigInt(t.balance) > 0n)
    if (!held.length) body.append(el('tr', { class: 'empty-row' }, el('td', { colspan: '2', class: 'muted' }, 'No tokens in this wallet yet.')))
    for (const t of held) {
      body.append(
        el('tr', { 'data-token': t.token },
          el('th', { scope: 'row' }, t.symbol || short(t.token)),
          el('td', { class: 'num', 'data-field': 'balance' }, formatUnits(t.balance, t.decimals)),
        ),
      )
    }
    $('holdings-note').textContent = 'Tokens in the wallet itself. Claimed rewards land here.'
    renderSendTokens()
  }

  function renderSendTokens() {
    const select = $('send-token')
    const chosen = select.value
    const held = state.held.filter((t) => BigInt(t.balance) > 0n)
    select.replaceChildren(...held.map((t) => el('option', { value: t.token }, t.symbol || short(t.token))))
    if (held.some((t) => t.token === chosen)) select.value = chosen
    const t = held.find((h) => h.token === select.value)
    $('send-token-held').textContent = t ? `You hold ${formatUnits(t.balance, t.decimals, t.symbol)}.` : 'Nothing to send yet: claim your rewards first.'
    $('send-submit').disabled = state.busy || !held.length
  }

  /** A progress line: text and, once there is one, the transaction link. */
  function progress(id, text, relay) {
    const line = $(id)
    line.replaceChildren(text)
    if (relay && relay.tx_hash) line.append(' ', el('span', {}, 'Transaction: ', txLink(relay.tx_hash, relay.explorer_url)))
    line.dataset.status = relay ? relay.status : ''
    if (relay && relay.tx_hash) line.dataset.tx = relay.tx_hash
  }

  const pending = (t) => BigInt(t.claimable) + BigInt(t.unconfirmed_claimable)
  const gasless = () => sameWallet(state.session, state.address)
  function updateClaimButton() {
    const injected = Boolean(window.ethereum && config.pushPull)
    const mine = gasless() || sameWallet(state.account, state.address)
    claimButton.hidden = !(state.session || injected)
    claimButton.textContent = gasless() ? 'Claim all (no gas)' : 'Claim all'
    claimButton.disabled = state.busy || !mine || !state.tokens.some((t) => pending(t) > 0n)
  }

  function renderSession() {
    const signedIn = Boolean(state.session)
    $('sign-in').hidden = signedIn
    $('signed-in').hidden = !signedIn
    $('session-wallet').textContent = state.session
    $('session-wallet').title = state.session
    $('send-card').hidden = !gasless()
    updateClaimButton()
  }

  // --- data --------------------------------------------------------------------------
  async function getJSON(path) {
    const response = await fetch(path, { headers: { Accept: 'application/json' } })
    if (!response.ok) throw new Error(`${path}: ${response.status}`)
    return response.json()
  }

  const refreshHistory = async () => renderHistory(await getJSON(`/api/wallet/${state.address}/history?limit=20`))
  async function refreshBalances() {
    try {
      renderBalances(await account.balances(state.address))
    } catch (error) {
      $('holdings').hidden = false
      $('holdings-note').textContent = 'Balances are unavailable right now: ' + refusal(error)
    }
  }

  async function follow(address) {
    state.address = address
    input.value = address
    const url = new URL(window.location.href)
    url.searchParams.set('address', address)
    window.history.replaceState(null, '', url)
    if (state.stream) state.stream.close()
    renderSession()
    refreshBalances()
    try {
      renderTokens(await getJSON(`/api/wallet/${address}/rewards`))
      await refreshHistory()
    } catch (error) {
      say('Could not load this wallet: ' + error.message)
      return
    }
    const stream = new EventSource(`/api/wallet/${address}/stream`)
    let last = ''
    stream.addEventListener('snapshot', (event) => {
      renderTokens(JSON.parse(event.data))
      root.dataset.updatedAt = String(Date.now())
      if (last && last !== event.data) {
        refreshHistory().catch(() => {})
        refreshBalances()
      }
      last = event.data
    })
    state.stream = stream
  }

  // --- passkey wallet ----------------------------------------------------------------
  function busy(on, ...buttons) {
    state.busy = on
    for (const button of buttons) button.disabled = on
    root.setAttribute('aria-busy', String(on))
  }

  async function withPasskey(button, waiting, action) {
    busy(true, button)
    say(waiting)
    try {
      const wallet = await action()
      state.session = wallet
      say('Signed in with your passkey.')
      await follow(wallet)
    } catch (error) {
      say(error.code === 'cancelled' ? 'Cancelled.' : 'Could not open your wallet: ' + refusal(error))
    } finally {
      busy(false, button)
      updateClaimButton()
    }
  }

  async function signOut() {
    try {
      await account.signOut()
    } catch {
      // the session was gone already
    }
    state.session = ''
    renderSession()
    say('Signed out.')
  }

  // --- gasless claim -------------------------------------------------------------------
  const CLAIM_TEXT = {
    queued: 'Claim queued: the relayer sends it with the next batch of claims, within seconds.',
    sent: 'Claim sent; waiting for it to be mined…',
    mined: 'Claimed: the tokens are in your wallet.',
  }

  async function claimGasless() {
    busy(true, claimButton)
    progress('claim-progress', 'Requesting a gasless claim…')
    try {
      const accepted = await account.claim()
      const final = await account.watchRelay(accepted, (relay) =>
        progress('claim-progress', relay.status === 'failed' ? `The claim failed: ${relay.error || 'reverted'}` : CLAIM_TEXT[relay.status] || relay.status, relay),
      )
      if (final.status === 'mined') refreshBalances()
    } catch (error) {
      progress('claim-progress', 'Claim refused: ' + refusal(error))
    } finally {
      busy(false, claimButton)
      updateClaimButton()
    }
  }

  // --- injected wallet ---------------------------------------------------------------
  async function connect() {
    if (!window.ethereum) {
      say('No wallet found in this browser: open this page in your wallet app, or enter your address below to see its rewards.')
      input.focus()
      return
    }
    try {
      const [wallet] = await window.ethereum.request({ method: 'eth_requestAccounts' })
      state.account = wallet
      say(`Connected ${short(wallet)}.`)
      await follow(wallet)
    } catch (error) {
      say(error && error.code === 4001 ? 'Connection refused in the wallet.' : 'The wallet failed: ' + (error && error.message))
    }
  }

  // pullRewards(address[]): selector, offset of the dynamic array (0x20), its length, the items.
  const word = (hex) => hex.replace(/^0x/, '').toLowerCase().padStart(64, '0')
  function encodePullRewards(tokens) {
    return config.selector + word('20') + word(tokens.length.toString(16)) + tokens.map(word).join('')
  }

  async function claimWithInjectedWallet() {
    const tokens = state.tokens.filter((t) => pending(t) > 0n).map((t) => t.token)
    if (!tokens.length) return
    claimButton.disabled = true
    say('Confirm the claim in your wallet…')
    try {
      const hash = await window.ethereum.request({
        method: 'eth_sendTransaction',
        params: [{ from: state.account, to: config.pushPull, data: encodePullRewards(tokens) }],
      })
      root.dataset.claimTx = hash
      say(`Claim sent: ${hash}. Your totals update once it is mined.`)
    } catch (error) {
      say(error && error.code === 4001 ? 'Claim cancelled in the wallet.' : 'The claim failed: ' + (error && error.message))
      updateClaimButton()
    }
  }

  const claimAll = () => (gasless() ? claimGasless() : claimWithInjectedWallet())

  // --- send ----------------------------------------------------------------------------
  function fieldError(name, message) {
    const field = $(`send-${name}-field`)
    const error = $(`e-send-${name}`)
    const control = $(`send-${name}`)
    field.classList.toggle('invalid', Boolean(message))
    error.hidden = !message
    error.textContent = message || ''
    if (message) control.setAttribute('aria-invalid', 'true')
    else control.removeAttribute('aria-invalid')
    return !message
  }

  const SEND_TEXT = {
    queued: 'Send queued: the relayer sends it in a moment.',
    sent: 'Send submitted; waiting for it to be mined…',
  }

  async function send(event) {
    event.preventDefault()
    const token = state.held.find((t) => t.token === $('send-token').value)
    const to = $('send-to').value.trim()
    const amount = token ? parseUnits($('send-amount').value, token.decimals || 0) : null
    const toOk = fieldError('to', /^0x[0-9a-fA-F]{40}$/.test(to) ? '' : 'Enter a wallet address: 0x and 40 hexadecimal characters.')
    let amountError = ''
    if (amount === null || amount <= 0n) amountError = `Enter an amount above 0${token && token.decimals ? `, at most ${token.decimals} decimals` : ''}.`
    else if (amount > BigInt(token.balance)) amountError = `You hold ${formatUnits(token.balance, token.decimals, token.symbol)}.`
    const amountOk = fieldError('amount', amountError)
    if (!token || !toOk || !amountOk) {
      $(toOk ? 'send-amount' : 'send-to').focus()
      return
    }
    const what = `${formatUnits(amount.toString(), token.decimals, token.symbol)} to ${to}`
    busy(true, $('send-submit'))
    try {
      progress('send-progress', `Preparing to send ${what}…`)
      const prepared = await account.prepareSend(token.token, to, amount.toString())
      root.dataset.sendChallenge = prepared.challenge
      progress('send-progress', 'Confirm with your passkey…')
      const accepted = await account.signAndSend(state.session, prepared, config.rpId)
      const final = await account.watchRelay(accepted, (relay) => {
        const text = relay.status === 'mined'
          ? `Sent ${what}.`
          : relay.status === 'failed'
            ? `The send failed: ${relay.error || 'reverted'}`
            : SEND_TEXT[relay.status] || relay.status
        progress('send-progress', text, relay)
      })
      if (final.status === 'mined') {
        $('send-amount').value = ''
        await refreshBalances()
      }
    } catch (error) {
      progress('send-progress', error.code === 'cancelled' ? 'Send cancelled.' : 'Send refused: ' + refusal(error))
    } finally {
      busy(false, $('send-submit'))
      renderSendTokens()
    }
  }

  // --- start ---------------------------------------------------------------------------
  function showChoices() {
    const injected = Boolean(window.ethereum)
    const passkeys = Boolean(window.PublicKeyCredential && config.passkeyWallets)
    const choices = $('sign-in')
    // the choice that fits this browser first: a passkey wallet unless a wallet is injected
    if (injected) choices.prepend($('choice-existing'))
    $('passkey-create').classList.toggle('primary', !injected)
    connectButton.classList.toggle('primary', injected)
    $('choice-passkey').hidden = !passkeys
    $('passkey-signin').hidden = !window.PublicKeyCredential
  }

  showChoices()
  $('sign-in').hidden = false
  $('passkey-create').addEventListener('click', (e) => withPasskey(e.currentTarget, 'Follow your device’s passkey prompt…', account.createWallet))
  $('passkey-signin').addEventListener('click', (e) => withPasskey(e.currentTarget, 'Waiting for your passkey…', account.signIn))
  $('sign-out').addEventListener('click', signOut)
  connectButton.addEventListener('click', connect)
  claimButton.addEventListener('click', claimAll)
  $('send-form').addEventListener('submit', send)
  $('send-token').addEventListener('change', renderSendTokens)
  if (window.ethereum) {
    window.ethereum.request({ method: 'eth_accounts' }).then((accounts) => {
      if (accounts && accounts[0]) state.account = accounts[0]
      updateClaimButton()
    }).catch(() => {})
  }
  account.sessionWallet().then((wallet) => {
    state.session = wallet || ''
    renderSession()
    if (!state.address && wallet) return follow(wallet)
    if (state.address) return follow(state.address)
  }).catch(() => {
    if (state.address) follow(state.address)
  })
  updateClaimButton()
})()
