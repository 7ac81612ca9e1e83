// Pure parts of the client, without a server: backoff, headers, base64, progress, stores.
import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { test } from 'node:test'

import { base64, sha256Base64 } from '../dist/checksum.js'
import { memoryStore, fingerprintOf } from '../dist/index.js'
import { ProgressMeter } from '../dist/progress.js'
import { backoffDelay } from '../dist/retry.js'
import { partHeaders } from '../dist/transport.js'

test('backoff doubles from the base, is capped, and keeps a random upper half', () => {
  const opts = { retryDelayMs: 500, maxRetryDelayMs: 30_000 }
  assert.equal(backoffDelay(1, opts, () => 0), 250)
  assert.equal(backoffDelay(1, opts, () => 1), 500)
  assert.equal(backoffDelay(3, opts, () => 1), 2000)
  assert.equal(backoffDelay(20, opts, () => 1), 30_000)
  assert.equal(backoffDelay(20, opts, () => 0), 15_000)
})

test('part headers are copied except those the runtime sets (content-length, host)', () => {
  assert.deepEqual(partHeaders({ 'x-amz-checksum-sha256': 'abc', 'Content-Length': '5', host: 'h' }), {
    'x-amz-checksum-sha256': 'abc',
  })
  assert.deepEqual(partHeaders(undefined), {})
})

test('base64 and SHA-256 match Node', async () => {
  for (const len of [0, 1, 2, 3, 4, 5, 31, 32, 33]) {
    const bytes = new Uint8Array(len).map((_, i) => (i * 37 + 11) & 255)
    assert.equal(base64(bytes), Buffer.from(bytes).toString('base64'))
  }
  const data = new Uint8Array(100_000).map((_, i) => i & 255)
  assert.equal(await sha256Base64(new Blob([data])), createHash('sha256').update(data).digest('base64'))
})

test('progress: rate over the last seconds and ETA', () => {
  let now = 0
  const meter = new ProgressMeter(() => now)
  assert.deepEqual(meter.sample(0, 1000), { bytesPerSecond: 0, etaSeconds: null })
  now = 1000
  assert.deepEqual(meter.sample(100, 1000), { bytesPerSecond: 100, etaSeconds: 9 })
  now = 10_000
  const late = meter.sample(1000, 1000)
  assert.equal(late.etaSeconds, 0)
  assert.ok(late.bytesPerSecond > 0)
})

test('stores and fingerprints', async () => {
  const store = memoryStore()
  store.setItem('a', '1')
  assert.equal(await store.getItem('a'), '1')
  store.removeItem('a')
  assert.equal(await store.getItem('a'), null)
  const file = { size: 10, type: 'video/mp4', lastModified: 5 }
  assert.notEqual(fingerprintOf(file, 'a.mp4', 'e'), fingerprintOf({ ...file, size: 11 }, 'a.mp4', 'e'))
})

test("retryDelays (Uppy's convention) replace the backoff, one entry per retry, the last repeating", () => {
  const opts = { retryDelays: [0, 1000, 3000] }
  assert.deepEqual([1, 2, 3, 4, 9].map((n) => backoffDelay(n, opts, () => 1)), [0, 1000, 3000, 3000, 3000])
  assert.equal(backoffDelay(1, { retryDelays: [], retryDelayMs: 100 }, () => 1), 100, 'empty: the backoff')
})

test("allowedMetaFields picks the file's meta sent as the upload's metadata", async () => {
  const { metadataOf } = await import('../dist/uppy.js')
  const meta = { name: 'Été.mp4', type: 'video/mp4', album: 'summer', relativePath: null, Caption: 'x', take: 3 }
  assert.deepEqual(metadataOf(meta, false), {})
  // true: every field the server accepts (a-z0-9- keys, string printable-ASCII values).
  assert.deepEqual(metadataOf(meta, true), { type: 'video/mp4', album: 'summer' })
  // Named: sent as strings, as they are (the server refuses bad ones loudly).
  assert.deepEqual(metadataOf(meta, ['album', 'take', 'relativePath', 'missing']), { album: 'summer', take: '3' })
})
