import assert from 'node:assert/strict'
import { describe, test } from 'node:test'

import { CascadeError } from '../src/errors.js'
import { readOptions } from '../src/options.js'
import { BACKEND, FakeStorage, PRODUCT_ID } from './fakes.js'

const valid = { productId: PRODUCT_ID, backendUrl: BACKEND }

const refused = (options, message) =>
  assert.throws(
    () => readOptions(options),
    (error) => error instanceof CascadeError && error.reason == 'invalid_option' && error.message == message,
  )

describe('readOptions', () => {
  test('normalises a valid configuration', () => {
    const onError = () => {}
    const storage = new FakeStorage()
    assert.deepEqual(
      readOptions({ productId: PRODUCT_ID.toUpperCase().replace('0X', '0x'), backendUrl: `${BACKEND}/cascade/`, onError, storage }),
      { productId: PRODUCT_ID, backendUrl: `${BACKEND}/cascade`, origin: BACKEND, onError, storage },
    )
  })

  test('allows plain http only for a loopback backend', () => {
    assert.equal(readOptions({ ...valid, backendUrl: 'http://127.0.0.1:8000' }).origin, 'http://127.0.0.1:8000')
    assert.equal(readOptions({ ...valid, backendUrl: 'http://localhost:8000' }).backendUrl, 'http://localhost:8000')
    refused({ ...valid, backendUrl: 'http://rewards.example' }, 'backendUrl: not https')
  })

  test('storage null means memory only', () => {
    assert.equal(readOptions({ ...valid, storage: null }).storage, null)
  })

  test('refuses every kind of mistake with a short message', () => {
    refused(undefined, 'options: not an object')
    refused([], 'options: not an object')
    refused({ ...valid, backendURL: BACKEND }, 'backendURL: unknown option')
    refused({ ...valid, productId: '0x1234' }, 'productId: not 0x + 64 hex digits')
    refused({ ...valid, productId: 'ab'.repeat(32) }, 'productId: not 0x + 64 hex digits')
    refused({ ...valid, productId: 42 }, 'productId: not 0x + 64 hex digits')
    refused({ ...valid, backendUrl: 'rewards.example' }, 'backendUrl: not an absolute URL')
    refused({ ...valid, backendUrl: 'javascript:alert(1)' }, 'backendUrl: not https')
    refused({ ...valid, backendUrl: `${BACKEND}/?x=1` }, 'backendUrl: has credentials, query or hash')
    refused({ ...valid, backendUrl: 'https://user:pw@rewards.example' }, 'backendUrl: has credentials, query or hash')
    refused({ ...valid, onError: 'console.log' }, 'onError: not a function')
    refused({ ...valid, storage: {} }, 'storage: not a Storage')
  })

  test('an unparsable backendUrl keeps the parser error as the cause', () => {
    try {
      readOptions({ ...valid, backendUrl: 'not a url' })
      assert.fail('accepted')
    } catch (error) {
      assert.ok(error.cause instanceof TypeError)
    }
  })
})
