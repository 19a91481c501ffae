import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { test } from 'node:test'

import { build, gzipSize, SIZE_LIMIT_BYTES } from '../scripts/build.mjs'

test(`dist/cascade.js is at most ${SIZE_LIMIT_BYTES} bytes minified and gzipped`, async () => {
  await build()
  const bytes = readFileSync(new URL('../dist/cascade.js', import.meta.url))
  const size = gzipSize(bytes)
  assert.ok(size <= SIZE_LIMIT_BYTES, `cascade.js is ${size} bytes gzipped, over the ${SIZE_LIMIT_BYTES}-byte budget`)
})

test('the ES module has the same budget', () => {
  const size = gzipSize(readFileSync(new URL('../dist/cascade.mjs', import.meta.url)))
  assert.ok(size <= SIZE_LIMIT_BYTES, `cascade.mjs is ${size} bytes gzipped`)
})

test('the ES module exports init and CascadeError', async () => {
  const module = await import('../dist/cascade.mjs')
  assert.equal(typeof module.init, 'function')
  assert.equal(typeof module.default.init, 'function')
  assert.equal(new module.CascadeError('queue_full', 'x').reason, 'queue_full')
})
