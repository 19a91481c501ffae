import assert from 'node:assert/strict'
import { describe, test } from 'node:test'

import { backoffDelay, MAX_ATTEMPTS } from '../src/backoff.js'
import { createQueue, QUEUE_LIMIT } from '../src/queue.js'
import { createStore } from '../src/store.js'
import { FakeStorage } from './fakes.js'

const item = (key, extra = {}) => ({ key, type: 'page.view', data: { n: key }, at: 1000, tries: 0, ...extra })

function setup(storage = new FakeStorage(), limit) {
  const reports = []
  const dropped = []
  const store = createStore(storage, (error) => reports.push(error))
  const queue = createQueue(store, 'q', (gone) => dropped.push(gone.key), limit)
  return { storage, queue, reports, dropped }
}

describe('queue', () => {
  test('persists items in order and reloads them', () => {
    const { storage, queue } = setup()
    queue.add(item('a'))
    queue.add(item('b'))
    assert.deepEqual(storage.json('q').map((i) => i.key), ['a', 'b'])
    const again = setup(storage).queue
    assert.deepEqual(again.items(), [item('a'), item('b')])
  })

  test(`is bounded to ${QUEUE_LIMIT} items, dropping the oldest`, () => {
    const { queue, dropped } = setup()
    for (let i = 0; i < QUEUE_LIMIT + 2; i++) queue.add(item(`k${i}`))
    assert.equal(queue.items().length, QUEUE_LIMIT)
    assert.equal(queue.items()[0].key, 'k2')
    assert.deepEqual(dropped, ['k0', 'k1'])
  })

  test('refuses a second item with the same dedup key', () => {
    const { queue } = setup()
    assert.equal(queue.add(item('same')), true)
    assert.equal(queue.add(item('same', { data: { other: 1 } })), false)
    assert.deepEqual(queue.items(), [item('same')])
  })

  test('update keeps the dedup key, so a retry is the same interaction', () => {
    const { queue, storage } = setup()
    queue.add(item('a'))
    queue.update(item('a', { tries: 2, next: 5000 }))
    assert.deepEqual(storage.json('q'), [item('a', { tries: 2, next: 5000 })])
    queue.remove('a')
    assert.deepEqual(storage.json('q'), [])
  })

  test('corrupt JSON is reported once and replaced', () => {
    const { queue, reports, storage } = setup(new FakeStorage({ q: '{not json' }))
    assert.deepEqual(queue.items(), [])
    queue.add(item('a'))
    assert.deepEqual(storage.json('q'), [item('a')])
    assert.equal(reports.length, 1)
    assert.equal(reports[0].reason, 'storage_error')
    assert.ok(reports[0].cause instanceof SyntaxError)
  })

  test('stored values of the wrong shape are ignored', () => {
    const stored = [item('ok'), { key: 1 }, null, item('bad', { data: [] }), item('late', { next: 'soon' })]
    const { queue } = setup(new FakeStorage({ q: JSON.stringify(stored) }))
    assert.deepEqual(queue.items(), [item('ok')])
    assert.deepEqual(setup(new FakeStorage({ q: '{"a":1}' })).queue.items(), [])
  })

  test('works in memory when storage is unavailable, reporting once', () => {
    const storage = new FakeStorage()
    storage.failing = 'all'
    const { queue, reports } = setup(storage)
    queue.add(item('a'))
    queue.add(item('b'))
    queue.remove('a')
    assert.deepEqual(queue.items(), [item('b')])
    assert.equal(reports.length, 1)
    assert.equal(reports[0].message, 'storage unavailable')
    assert.equal(reports[0].cause.name, 'QuotaExceededError')
  })

  test('keeps working when the quota is exceeded on write', () => {
    const storage = new FakeStorage()
    const { queue, reports } = setup(storage)
    queue.add(item('a'))
    storage.failing = 'write'
    queue.add(item('b'))
    assert.equal(reports.length, 1)
    // memory is the truth until a write succeeds again
    assert.deepEqual(queue.items(), [item('a'), item('b')])
    storage.failing = null
    queue.add(item('c'))
    assert.deepEqual(storage.json('q').map((i) => i.key), ['a', 'b', 'c'])
  })

  test('no storage at all (storage: null) is memory only, silently', () => {
    const { queue, reports } = setup(null)
    queue.add(item('a'))
    assert.deepEqual(queue.items(), [item('a')])
    assert.deepEqual(reports, [])
  })
})

describe('backoff', () => {
  test('doubles from 1s, capped at 60s, with half of it random', () => {
    const low = Array.from({ length: MAX_ATTEMPTS }, (_, i) => backoffDelay(i + 1, () => 0))
    const high = Array.from({ length: MAX_ATTEMPTS }, (_, i) => backoffDelay(i + 1, () => 0.999999))
    assert.deepEqual(low, [500, 1000, 2000, 4000, 8000, 16000, 30000, 30000])
    assert.deepEqual(high, [1000, 2000, 4000, 8000, 16000, 32000, 60000, 60000])
  })

  test('jitter stays within its window', () => {
    for (let i = 0; i < 200; i++) {
      const delay = backoffDelay(3)
      assert.ok(delay >= 2000 && delay <= 4000, String(delay))
    }
  })
})
