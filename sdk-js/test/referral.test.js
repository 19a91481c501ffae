import assert from 'node:assert/strict'
import { describe, test } from 'node:test'

import { takeReferralToken } from '../src/referral.js'

const TOKEN = 'v1.eyJyZWYiOiIweDIyIn0.c2lnbmF0dXJl'

describe('takeReferralToken', () => {
  test('takes the token and keeps the other parameters and the hash', () => {
    assert.deepEqual(takeReferralToken(`https://shop.example/p?a=1&cascade=${TOKEN}&b=x%20y#top`), {
      found: true,
      token: TOKEN,
      href: 'https://shop.example/p?a=1&b=x%20y#top',
    })
  })

  test('keeps the exact encoding of other parameters', () => {
    const { href } = takeReferralToken(`https://shop.example/?q=a+b&r=%2F&cascade=${TOKEN}`)
    assert.equal(href, 'https://shop.example/?q=a+b&r=%2F')
  })

  test('removes the question mark when nothing else is left', () => {
    assert.equal(takeReferralToken(`https://shop.example/p?cascade=${TOKEN}#h`).href, 'https://shop.example/p#h')
  })

  test('takes the first of repeated parameters and strips them all', () => {
    const other = 'w'.repeat(20)
    assert.deepEqual(takeReferralToken(`https://shop.example/?cascade=${TOKEN}&x=1&cascade=${other}`), {
      found: true,
      token: TOKEN,
      href: 'https://shop.example/?x=1',
    })
  })

  test('leaves a URL without the parameter untouched', () => {
    const href = 'https://shop.example/?cascades=1&xcascade=2#cascade=3'
    assert.deepEqual(takeReferralToken(href), { found: false, token: null, href })
  })

  for (const [label, value] of [
    ['empty', ''],
    ['too short', 'abc'],
    ['not URL-safe', 'abcdefghijklmnop%3Cscript%3E'],
    ['too long', 'a'.repeat(1025)],
  ]) {
    test(`strips a malformed token (${label}) without returning it`, () => {
      const result = takeReferralToken(`https://shop.example/?cascade=${value}&k=v`)
      assert.deepEqual(result, { found: true, token: null, href: 'https://shop.example/?k=v' })
    })
  }

  test('a bare parameter name counts as found and malformed', () => {
    assert.deepEqual(takeReferralToken('https://shop.example/?cascade'), {
      found: true,
      token: null,
      href: 'https://shop.example/',
    })
  })
})
