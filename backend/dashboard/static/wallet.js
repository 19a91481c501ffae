// The wallet page, enhanced: connect an injected EIP-1193 wallet, follow the SSE
// stream of the wallet's numbers, and "Claim all" in one pullRewards(tokens) call.
// Without this file the page still shows the numbers for ?address=0x… (server-rendered).
;(() => {
  'use strict'
  const root = document.getElementById('wallet')
  const config = root.dataset
  const status = document.getElementById('wallet-status')
  const claimButton = document.getElementById('claim-all')
  const connectButton = document.getElementById('connect')
  const input = document.getElementById('f-address')
  const state = { address: config.address || '', account: '', tokens: [], stream: null }
  const say = (text) => { status.textContent = text }

  // --- formatting (matches the server's rendering) -------------------------------------
  const groups = (digits) => digits.replace(/\B(?=(\d{3})+(?!\d))/g, ',')
  function formatUnits(value, decimals, symbol) {
    let text
    const raw = BigInt(value || '0').toString()
    if (!decimals) {
      text = groups(raw)
    } else {
      const padded = raw.padStart(decimals + 1, '0')
      const whole = padded.slice(0, -decimals)
      const fraction = padded.slice(-decimals).replace(/0+$/, '')
      text = groups(whole) + (fraction ? '.' + fraction : '')
    }
    return symbol ? `${text} ${symbol}` : text
  }
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
  const txLink = (hash) => {
    if (!hash) return '–'
    const code = el('code', { title: hash }, short(hash))
    if (!config.explorer) return code
    return el('a', { href: `${config.explorer.replace(/\/$/, '')}/tx/${hash}`, target: '_blank', rel: 'noopener' }, code)
  }

  // --- rendering ---------------------------------------------------------------------
  function renderTokens(snapshot) {
    state.tokens = snapshot.tokens
    const body = document.getElementById('token-rows')
    body.replaceChildren()
    if (!snapshot.tokens.length) {
      body.append(el('tr', { class: 'empty-row' }, el('td', { colspan: '4', class: 'muted' }, 'No rewards for this wallet yet.')))
    }
    for (const t of snapshot.tokens) {
      const claimable = el('td', { class: 'num', 'data-field': 'claimable' }, formatUnits(t.claimable, t.decimals))
      if (t.unconfirmed_claimable !== '0') {
        claimable.append(' ', el('span', { class: 'muted' }, `+ ${formatUnits(t.unconfirmed_claimable, t.decimals)} confirming`))
      }
      body.append(
        el('tr', { 'data-token': t.token },
          el('th', { scope: 'row' }, t.symbol || short(t.token)),
          claimable,
          el('td', { class: 'num', 'data-field': 'queued' }, formatUnits(t.queued, t.decimals)),
          el('td', { class: 'num', 'data-field': 'claimed' }, formatUnits(t.claimed_total, t.decimals)),
        ),
      )
    }
    updateClaimButton()
  }

  function renderHistory(page) {
    const body = document.getElementById('history-rows')
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
          el('td', {}, el('span', { class: `badge badge-${item.status}` }, item.status)),
          el('td', {}, txLink(item.kind === 'reward' && item.claim_tx_hash ? item.claim_tx_hash : item.tx_hash)),
        ),
      )
    }
  }

  const pending = (t) => BigInt(t.claimable) + BigInt(t.unconfirmed_claimable)
  function updateClaimButton() {
    const mine = state.account && state.account.toLowerCase() === state.address.toLowerCase()
    claimButton.hidden = !window.ethereum || !config.pushPull
    claimButton.disabled = !mine || !state.tokens.some((t) => pending(t) > 0n)
  }

  // --- data --------------------------------------------------------------------------
  async function getJSON(path) {
    const response = await fetch(path, { headers: { Accept: 'application/json' } })
    if (!response.ok) throw new Error(`${path}: ${response.status}`)
    return response.json()
  }

  async function refreshHistory() {
    renderHistory(await getJSON(`/api/wallet/${state.address}/history?limit=20`))
  }

  async function follow(address) {
    state.address = address
    if (state.stream) state.stream.close()
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
      if (last && last !== event.data) refreshHistory().catch(() => {})
      last = event.data
    })
    state.stream = stream
  }

  // --- wallet ------------------------------------------------------------------------
  async function connect() {
    try {
      const [account] = await window.ethereum.request({ method: 'eth_requestAccounts' })
      state.account = account
      input.value = account
      const url = new URL(window.location.href)
      url.searchParams.set('address', account)
      window.history.replaceState(null, '', url)
      say(`Connected ${short(account)}.`)
      await follow(account)
    } catch (error) {
      say(error && error.code === 4001 ? 'Connection refused in the wallet.' : 'The wallet failed: ' + (error && error.message))
    }
  }

  // pullRewards(address[]): selector, offset of the dynamic array (0x20), its length, the items.
  const word = (hex) => hex.replace(/^0x/, '').toLowerCase().padStart(64, '0')
  function encodePullRewards(tokens) {
    return config.selector + word('20') + word(tokens.length.toString(16)) + tokens.map(word).join('')
  }

  async function claimAll() {
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

  if (window.ethereum) {
    connectButton.hidden = false
    connectButton.addEventListener('click', connect)
    window.ethereum.request({ method: 'eth_accounts' }).then((accounts) => {
      if (accounts && accounts[0]) state.account = accounts[0]
      updateClaimButton()
    }).catch(() => {})
  }
  claimButton.addEventListener('click', claimAll)
  if (state.address) follow(state.address)
  updateClaimButton()
})()
