// Pure parts of the client, without a server: backoff, headers, base64, progress, stores.
import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { test } from 'node:test'

import { base64, combineCrc64nvme, contentFingerprint, crc64nvme, crc64nvmeBase64, sha256Base64 } from '../dist/checksum.js'
import { ApiClient, UploadError, memoryStore, fingerprintOf } from '../dist/index.js'
import { md5Hex } from '../dist/md5.js'
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

test('CRC64NVME: the catalogue check value, base64 big-endian, and parts combined into the whole', async () => {
  const check = await crc64nvme(new Blob([new TextEncoder().encode('123456789')]))
  assert.equal(check, 0xae8b14860a799888n)
  assert.equal(crc64nvmeBase64(check), 'rosUhgp5mIg=')
  const data = new Uint8Array(1_000_003).map((_, i) => (i * 31 + 7) & 255)
  const whole = await crc64nvme(new Blob([data]))
  for (const chunk of [1, 1000, 333_334, 500_000]) {
    const parts = []
    for (let i = 0; i < data.length; i += chunk) parts.push(await crc64nvme(new Blob([data.subarray(i, i + chunk)])))
    const last = data.length - chunk * (parts.length - 1)
    assert.equal(combineCrc64nvme(parts, chunk, last), whole, `parts of ${chunk}`)
  }
})

test('MD5 (for comparing a stored part with its ETag) matches Node', () => {
  for (const len of [0, 1, 55, 56, 63, 64, 65, 1000, 100_000]) {
    const bytes = new Uint8Array(len).map((_, i) => (i * 13 + 5) & 255)
    assert.equal(md5Hex(bytes), createHash('md5').update(bytes).digest('hex'), `${len} bytes`)
  }
})

test("the content fingerprint is the CLI's: SHA-256 of size, checksum word, first and last MiB", async () => {
  const data = new Uint8Array(3 * 1024 * 1024 + 5).map((_, i) => (i * 7) & 255)
  const head = Buffer.from(`upload-fingerprint-v1|${data.length}|CRC64NVME|`)
  const expected = createHash('sha256')
    .update(head)
    .update(data.subarray(0, 1 << 20))
    .update(data.subarray(data.length - (1 << 20)))
    .digest('hex')
  assert.equal(await contentFingerprint(new Blob([data]), 'CRC64NVME'), expected)
  assert.notEqual(await contentFingerprint(new Blob([data]), false), expected)
})

/** A fetch that answers each call with the next of `answers` ([status, body]) and records calls. */
function scripted(answers) {
  const calls = []
  const fetch = async (url, init) => {
    calls.push({ url, init })
    const [status, body] = answers[Math.min(calls.length, answers.length) - 1]
    return new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json' } })
  }
  return { fetch, calls }
}

test('answers that will not change are not retried: QUOTA_EXCEEDED (429) and validation (400)', async () => {
  for (const [status, code] of [[429, 'QUOTA_EXCEEDED'], [400, 'INVALID_FILE_SIZE']]) {
    const { fetch, calls } = scripted([[status, { error: { code, message: 'no' } }]])
    const client = new ApiClient({ endpoint: 'http://api.test', fetch, retryDelayMs: 1 })
    await assert.rejects(client.initialize({ fileName: 'a', fileType: 'video/mp4', fileSize: 1 }), (err) => {
      assert.ok(err instanceof UploadError)
      assert.equal(err.code, code)
      return true
    })
    assert.equal(calls.length, 1, `${code}: one call`)
  }
  const { fetch, calls } = scripted([[429, { error: { code: 'RATE_LIMITED', message: 'slow down' } }], [200, { uploads: [] }]])
  const client = new ApiClient({ endpoint: 'http://api.test', fetch, retryDelayMs: 1 })
  await client.listUploads()
  assert.equal(calls.length, 2, 'RATE_LIMITED is retried')
})

test('a token function is asked again once on 401, and the call repeated', async () => {
  let issued = 0
  const token = () => `t${++issued}`
  const { fetch, calls } = scripted([[401, { error: { code: 'UNAUTHENTICATED', message: 'expired' } }], [200, { uploads: [] }]])
  await new ApiClient({ endpoint: 'http://api.test', fetch, token }).listUploads()
  assert.deepEqual(calls.map((c) => c.init.headers.authorization), ['Bearer t1', 'Bearer t2'])
  const twice = scripted([[401, { error: { code: 'UNAUTHENTICATED', message: 'expired' } }]])
  await assert.rejects(new ApiClient({ endpoint: 'http://api.test', fetch: twice.fetch, token }).listUploads(), /expired/)
  assert.equal(twice.calls.length, 2, 'refreshed once, then the 401 stands')
  const fixed = scripted([[401, { error: { code: 'UNAUTHENTICATED', message: 'expired' } }]])
  await assert.rejects(new ApiClient({ endpoint: 'http://api.test', fetch: fixed.fetch, token: 'static' }).listUploads())
  assert.equal(fixed.calls.length, 1, 'a fixed token is not retried')
})
