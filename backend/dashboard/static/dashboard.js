// Progressive enhancement for the dashboard: every page works without this file.
// It adds copy buttons, confirmations, the reward-type switch, live analytics,
// and the bank's pause through the owner's injected wallet (EIP-1193).
;(() => {
  'use strict'
  const $$ = (selector, root = document) => Array.from(root.querySelectorAll(selector))

  // Copy a secret once shown.
  for (const button of $$('[data-copy]')) {
    button.addEventListener('click', async () => {
      const target = document.getElementById(button.dataset.copy)
      const text = target.value !== undefined ? target.value : target.textContent
      try {
        await navigator.clipboard.writeText(text)
        button.textContent = 'Copied'
      } catch (error) {
        if (target.select) target.select()
        button.textContent = 'Press Ctrl+C'
      }
    })
  }

  // Ask before irreversible actions.
  for (const form of $$('form[data-confirm]')) {
    form.addEventListener('submit', (event) => {
      if (!window.confirm(form.dataset.confirm)) event.preventDefault()
    })
  }

  // The campaign form shows only the fields of the chosen reward type.
  const rewardType = document.getElementById('f-reward_type')
  if (rewardType) {
    const sync = () => {
      for (const block of $$('.reward-kind')) block.hidden = block.dataset.kind !== rewardType.value
    }
    rewardType.addEventListener('change', sync)
    sync()
  }

  // Move focus to the error summary after a failed submit (screen readers announce it).
  const summary = document.getElementById('error-summary')
  if (summary) summary.focus()

  // Keep the campaign analytics live: re-fetch the block every few seconds while visible.
  const analytics = document.getElementById('analytics')
  if (analytics && analytics.dataset.refresh) {
    const refresh = async () => {
      if (document.hidden) return
      try {
        const response = await fetch(analytics.dataset.refresh, {
          credentials: 'same-origin',
          headers: { Accept: 'text/html' },
        })
        if (response.ok) {
          const html = await response.text()
          const openTables = $$('details[open]', analytics).map((d) => d.closest('figure')?.id)
          analytics.innerHTML = html
          for (const id of openTables) {
            const details = id && document.querySelector(`#${id} details`)
            if (details) details.open = true
          }
          analytics.dataset.refreshedAt = String(Date.now())
        }
      } catch (error) {
        // offline for a moment: the next tick tries again
      }
    }
    window.setInterval(refresh, Number(analytics.dataset.interval || 4000))
  }

  // Pause or unpause the bank with the owner's wallet (owner-only on-chain).
  const SELECTORS = { pause: '0x8456cb59', unpause: '0x3f4ba83a' }
  for (const box of $$('[data-bank]')) {
    const button = box.querySelector('[data-bank-toggle]')
    const status = box.querySelector('.status')
    if (!window.ethereum || !button) continue
    button.hidden = false
    button.addEventListener('click', async () => {
      const method = box.dataset.paused === 'true' ? 'unpause' : 'pause'
      try {
        const [from] = await window.ethereum.request({ method: 'eth_requestAccounts' })
        if (String(from).toLowerCase() !== box.dataset.owner.toLowerCase()) {
          status.textContent = 'Connect the owner wallet ' + box.dataset.owner + ' to do this.'
          return
        }
        const hash = await window.ethereum.request({
          method: 'eth_sendTransaction',
          params: [{ from, to: box.dataset.bank, data: SELECTORS[method] }],
        })
        status.textContent = `Sent (${hash}). Reload once it is mined.`
      } catch (error) {
        status.textContent = error && error.code === 4001 ? 'Cancelled in the wallet.' : 'The wallet failed: ' + (error && error.message)
      }
    })
  }
})()
