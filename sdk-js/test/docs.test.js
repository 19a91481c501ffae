// Keeps README.md and PROTOCOL.md true to the code.
import assert from 'node:assert/strict'
import { readdirSync, readFileSync } from 'node:fs'
import { test } from 'node:test'

import { build } from '../scripts/build.mjs'
import { REASONS } from '../src/errors.js'
import { OPTION_NAMES } from '../src/options.js'
import { REPLY_TYPES, REQUEST_TYPES } from '../src/protocol.js'

const read = (path) => readFileSync(new URL(`../${path}`, import.meta.url), 'utf8')
const README = read('README.md')
const PROTOCOL = read('PROTOCOL.md')
const sdkSources = (dir = 'src') =>
  readdirSync(new URL(`../${dir}`, import.meta.url), { withFileTypes: true }).flatMap((entry) =>
    entry.isDirectory()
      ? entry.name == 'listener' ? [] : sdkSources(`${dir}/${entry.name}`)
      : [read(`${dir}/${entry.name}`)],
  )

test('README documents every init option', () => {
  for (const name of OPTION_NAMES) assert.match(README, new RegExp(`^\\| \`${name}\` \\|`, 'm'), name)
})

test('README documents every client method', async () => {
  for (const file of readdirSync(new URL('../src/actions', import.meta.url))) {
    const name = file.replace(/\.js$/, '')
    assert.match(README, new RegExp(`^### \`client\\.${name}\\(`, 'm'), name)
  }
})

test('README lists exactly the reasons the code reports', () => {
  const documented = [...README.matchAll(/^\| `([a-z_]+)` \| .+ \| .+ \|$/gm)].map((m) => m[1])
  assert.deepEqual(documented.filter((name) => !OPTION_NAMES.includes(name)), REASONS)
  const reported = new Set()
  for (const source of sdkSources()) {
    for (const match of source.matchAll(/(?:report|drop|CascadeError)\([^'`)]*'([a-z_]+)'/g)) reported.add(match[1])
  }
  reported.add('request_failed') // the second branch of a ternary in createReferralLink
  assert.deepEqual([...reported].sort(), [...REASONS].sort())
})

test("README's snippet is five lines and its size figure is current", async () => {
  const snippet = README.match(/## Quick start[^]*?```html\n([^]*?)```/)[1]
  assert.equal(snippet.trim().split('\n').length, 5)
  const sizes = await build()
  const { gzipped } = sizes.find((size) => size.out == 'dist/cascade.js')
  const stated = Number(README.match(/`dist\/cascade\.js` is (\d+) bytes minified and gzipped/)[1])
  assert.ok(Math.abs(stated - gzipped) <= 150, `README says ${stated} bytes, the build makes ${gzipped}: update it`)
})

test('PROTOCOL documents every message type', () => {
  for (const type of [...REQUEST_TYPES, ...REPLY_TYPES]) {
    assert.match(PROTOCOL, new RegExp(`^\\| \`${type}\` \\|`, 'm'), type)
  }
})

test('PROTOCOL documents every endpoint the listener calls', () => {
  const api = read('src/listener/api.js')
  const normalise = (path) => path.replace(/\$\{[^}]+\}|\{[^}]+\}/g, '{}')
  const used = [...api.matchAll(/call\('(GET|POST)', [`'](\/api\/[^`']+)/g)].map((m) => `${m[1]} ${normalise(m[2])}`)
  used.push(...[...api.matchAll(/\$\{baseUrl\}(\/api\/[^`]+)`/g)].map((m) => `GET ${normalise(m[1])}`))
  assert.equal(used.length, 13) // 12 fetches + the event stream
  const documented = new Set([...PROTOCOL.matchAll(/`(GET|POST) (\/api\/[^`\s]+)/g)].map((m) => `${m[1]} ${normalise(m[2])}`))
  for (const endpoint of used) assert.ok(documented.has(endpoint), endpoint)
})
