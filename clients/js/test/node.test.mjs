// The package in Node 20 against the local API on moto: a 23 MiB file, injected part failures, an
// expired URL, abort and resume, a killed-and-resumed process, the API's error codes, checksums.
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { createHash } from 'node:crypto'
import { rm } from 'node:fs/promises'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import { fileURLToPath } from 'node:url'

import { ApiClient, Upload, UploadError, isAbortError, memoryStore, upload } from '../dist/index.js'
import { crc64nvmeBase64 } from '../dist/checksum.js'
import { MIB, fileStore, instrumentedFetch, makeFile, multipartEtag, readObject, startApi } from './support/stack.mjs'

/** CRC-64/NVME, table-driven in two 32-bit halves (independent of the client's implementation). */
const CRC_TABLE = Array.from({ length: 256 }, (_, n) => {
  let lo = n
  let hi = 0
  for (let k = 0; k < 8; k++) {
    const bit = lo & 1
    lo = ((lo >>> 1) | ((hi & 1) << 31)) >>> 0
    hi = hi >>> 1
    if (bit) {
      hi = (hi ^ 0x9a6c9329) >>> 0
      lo = (lo ^ 0xac4bc9b5) >>> 0
    }
  }
  return [hi, lo]
})
function crc64(bytes) {
  let hi = 0xffffffff
  let lo = 0xffffffff
  for (const byte of bytes) {
    const [th, tl] = CRC_TABLE[(lo ^ byte) & 0xff]
    lo = (((lo >>> 8) | ((hi & 0xff) << 24)) ^ tl) >>> 0
    hi = ((hi >>> 8) ^ th) >>> 0
  }
  return (BigInt((hi ^ 0xffffffff) >>> 0) << 32n) | BigInt((lo ^ 0xffffffff) >>> 0)
}

const SIZE = 23 * MIB
const CHUNK = 5 * MIB
const PARTS = 5

let api
let file
before(async () => {
  api = await startApi()
  file = await makeFile(SIZE)
})
after(async () => {
  await api?.stop()
  if (file) await rm(file.dir, { recursive: true, force: true })
})

const base = (extra = {}) => ({
  endpoint: api.endpoint,
  userId: 'alice',
  fileName: 'match.mp4',
  store: null,
  retryDelayMs: 20,
  ...extra,
})

async function assertStored(result) {
  assert.equal(result.status, 'COMPLETED')
  assert.equal(result.size, SIZE)
  const stored = await readObject(api.bucket, result.key)
  assert.ok(stored.equals(file.bytes), 'the stored object is the file, byte for byte')
  assert.equal(result.etag, multipartEtag(file.bytes, CHUNK))
}

describe('upload()', { timeout: 120_000 }, () => {
  test('a 23 MiB file in parallel parts, with progress, reads back identical', async () => {
    const { fetch, calls, puts } = instrumentedFetch()
    const progress = []
    const started = []
    const result = await upload(file.blob, base({ fetch, concurrency: 3, onProgress: (p) => progress.push(p), onStart: (s) => started.push(s) }))
    await assertStored(result)
    assert.equal(started[0].totalParts, PARTS)
    assert.equal(started[0].chunkSize, CHUNK)
    assert.equal(started[0].resumed, false)
    assert.equal(puts.length, PARTS, 'one PUT per part')
    assert.equal(result.partsSent, PARTS)
    // URLs came in one batch request, and completion carried the client's ETags.
    assert.equal(calls.filter((c) => c.path.endsWith('/batch-presigned-urls')).length, 1)
    const complete = calls.find((c) => c.path.endsWith('/complete'))
    assert.equal(complete.body.parts.length, PARTS)
    // Progress: monotonic bytes up to the size, a rate and an ETA along the way.
    const bytes = progress.map((p) => p.bytesUploaded)
    assert.deepEqual(bytes, [...bytes].sort((a, b) => a - b))
    assert.equal(progress.at(-1).bytesUploaded, SIZE)
    assert.equal(progress.at(-1).partsDone, PARTS)
    assert.ok(progress.every((p) => p.bytesTotal === SIZE && p.bytesPerSecond >= 0))
  })

  test('failed parts are retried alone: 5xx twice, no answer once', async () => {
    const { fetch, puts } = instrumentedFetch({ fail: { 2: 2 }, drop: { 4: 1 } })
    const retries = []
    const result = await upload(file.blob, base({ fetch, onRetry: (r) => retries.push(r) }))
    await assertStored(result)
    const tries = (n) => puts.filter((p) => p.part === n).length
    assert.equal(tries(2), 3)
    assert.equal(tries(4), 2)
    for (const n of [1, 3, 5]) assert.equal(tries(n), 1, `part ${n} sent once`)
    assert.deepEqual(retries.map((r) => r.partNumber).sort(), [2, 2, 4])
    // Exponential backoff: the second retry of part 2 waited in [base, 2·base].
    const second = retries.filter((r) => r.partNumber === 2)[1]
    assert.ok(second.delayMs >= 20 && second.delayMs <= 40, String(second.delayMs))
  })

  test('an expired URL (403) gets a fresh URL for that part only', async () => {
    const { fetch, calls, puts } = instrumentedFetch({ expire: { 3: 1 } })
    const result = await upload(file.blob, base({ fetch }))
    await assertStored(result)
    const fresh = calls.filter((c) => c.path.endsWith('/presigned-url'))
    assert.deepEqual(fresh.map((c) => c.body.partNumber), [3])
    assert.deepEqual(puts.filter((p) => p.part === 3).map((p) => p.outcome), ['expired', '200'])
  })

  test('a part that keeps failing gives up with its error; the upload resumes by id', async () => {
    const failing = instrumentedFetch({ fail: { 2: 100 } })
    const err = await upload(file.blob, base({ fetch: failing.fetch, maxRetries: 2, concurrency: 1 })).then(
      () => assert.fail('must fail'),
      (e) => e,
    )
    assert.ok(err instanceof UploadError)
    assert.equal(err.code, 'PART_UPLOAD_FAILED')
    assert.equal(err.partNumber, 2)
    assert.equal(err.status, 500)
    assert.match(err.message, /part 2 failed after 3 tries/)
    assert.ok(err.uploadId)
    // Part 1 went in before; resuming sends only what storage lacks.
    const { fetch, puts } = instrumentedFetch()
    const started = []
    const result = await upload(file.blob, base({ fetch, uploadId: err.uploadId, onStart: (s) => started.push(s) }))
    await assertStored(result)
    assert.equal(started[0].resumed, true)
    assert.equal(started[0].partsAlreadyStored, 1)
    assert.deepEqual(puts.map((p) => p.part).sort(), [2, 3, 4, 5])
  })

  test('abort through the AbortSignal stops the parts; the store resumes the rest', async () => {
    const store = memoryStore()
    const controller = new AbortController()
    const first = instrumentedFetch({ delayMs: 150 })
    const err = await upload(file.blob, base({
      fetch: first.fetch,
      store,
      concurrency: 1,
      signal: controller.signal,
      onPartComplete: (p) => p.partNumber === 2 && controller.abort(),
    })).then(() => assert.fail('must abort'), (e) => e)
    assert.ok(isAbortError(err), String(err))
    assert.equal(err.code, 'ABORTED')
    const sentBefore = first.puts.length
    await new Promise((r) => setTimeout(r, 300))
    assert.equal(first.puts.length, sentBefore, 'nothing is sent after abort')

    const client = new ApiClient(base())
    const status = await client.status(err.uploadId)
    assert.equal(status.status, 'INITIATED')
    assert.equal(status.uploadedParts, 2)

    const { fetch, puts } = instrumentedFetch()
    const started = []
    const result = await upload(file.blob, base({ fetch, store, onStart: (s) => started.push(s) }))
    await assertStored(result)
    assert.equal(started[0].uploadId, err.uploadId, 'the stored upload id is resumed')
    assert.deepEqual(puts.map((p) => p.part).sort(), [3, 4, 5])
  })

  test('Upload: pause(), resume() and cancel()', async () => {
    const { fetch, puts } = instrumentedFetch({ delayMs: 100 })
    let paused = false
    const u = new Upload(file.blob, base({
      fetch,
      concurrency: 1,
      store: memoryStore(),
      onPartComplete: (p) => {
        if (p.partNumber === 1 && !paused) {
          paused = true
          u.pause()
        }
      },
    }))
    u.start()
    while (u.state !== 'paused') await new Promise((r) => setTimeout(r, 20))
    await new Promise((r) => setTimeout(r, 250))
    assert.equal(puts.length, 1, 'nothing is sent while paused')
    const result = await u.resume()
    await assertStored(result)
    assert.deepEqual(puts.slice(1).map((p) => p.part), [2, 3, 4, 5])

    const v = new Upload(file.blob, base({ store: memoryStore(), onPartComplete: () => v.cancel() }))
    const cancelled = await v.start().then(() => assert.fail('must be cancelled'), (e) => e)
    assert.ok(isAbortError(cancelled))
    while (!v.uploadId) await new Promise((r) => setTimeout(r, 20))
    await new Promise((r) => setTimeout(r, 300))
    assert.equal((await new ApiClient(base()).status(v.uploadId)).status, 'ABORTED')
  })

  test('a killed process resumes from GET /parts, sending only the missing parts', async () => {
    const storePath = join(file.dir, 'store.json')
    const child = spawn(process.execPath, [fileURLToPath(new URL('./support/child-upload.mjs', import.meta.url)), api.endpoint, file.path, storePath], {
      stdio: ['ignore', 'pipe', 'inherit'],
    })
    let out = ''
    await new Promise((resolve, reject) => {
      child.stdout.on('data', (d) => {
        out += d
        if ((out.match(/^PART /gm) ?? []).length >= 2) {
          child.kill('SIGKILL')
          resolve()
        }
      })
      child.once('exit', (code) => reject(new Error(`child ended (${code}) before the kill:\n${out}`)))
    })
    await new Promise((r) => child.exitCode !== null || child.signalCode !== null ? r() : child.once('exit', r))
    assert.ok(!out.includes('DONE'))
    const uploadId = /^START (\S+)/m.exec(out)[1]
    const listed = await new ApiClient({ endpoint: api.endpoint, userId: 'carol' }).listParts(uploadId)
    const stored = listed.parts.map((p) => p.PartNumber)
    assert.ok(stored.length >= 2 && stored.length < PARTS, `stored: ${stored}`)

    const { fetch, puts } = instrumentedFetch()
    const started = []
    const result = await upload(file.blob, {
      endpoint: api.endpoint,
      userId: 'carol',
      fileName: 'killed.mp4',
      fetch,
      store: fileStore(storePath),
      fingerprint: 'killed-upload',
      onStart: (s) => started.push(s),
    })
    assert.equal(started[0].uploadId, uploadId)
    assert.equal(started[0].partsAlreadyStored, stored.length)
    assert.equal(puts.length, PARTS - stored.length, 'only the missing parts are sent')
    assert.ok(puts.every((p) => !stored.includes(p.part)))
    await assertStored(result)
    // Completed: the store no longer holds the upload.
    assert.equal(await fileStore(storePath).getItem('multipart-upload:killed-upload'), null)
  })

  test('an upload completed by a run that died before forgetting it is not sent again', async () => {
    const store = memoryStore()
    const first = await upload(file.blob, base({ store, fingerprint: 'done-once' }))
    // As if the process died between complete and forgetting: the store still names the upload.
    store.setItem('multipart-upload:done-once', JSON.stringify({ uploadId: first.uploadId }))
    const { fetch, puts, calls } = instrumentedFetch()
    const again = await upload(file.blob, base({ fetch, store, fingerprint: 'done-once' }))
    assert.equal(again.uploadId, first.uploadId)
    assert.equal(again.key, first.key)
    assert.equal(again.resumed, true)
    assert.equal(puts.length, 0)
    assert.ok(!calls.some((c) => c.path.endsWith('/initialize') || c.path.endsWith('/complete')))
    assert.equal(await store.getItem('multipart-upload:done-once'), null)
  })

  test("errors carry the API's error.code", async () => {
    const bad = await upload(file.blob, base({ fileType: 'not a media type' })).then(() => assert.fail(), (e) => e)
    assert.ok(bad instanceof UploadError)
    assert.equal(bad.code, 'INVALID_FILE_TYPE')
    assert.equal(bad.status, 400)
    const missing = await upload(file.blob, base({ uploadId: '3f2c9d1e-8a4b-4c6d-9e0f-1a2b3c4d5e6f' })).then(() => assert.fail(), (e) => e)
    assert.equal(missing.code, 'UPLOAD_NOT_FOUND')
    assert.equal(missing.status, 404)
    const anonymous = await upload(file.blob, base({ userId: undefined })).then(() => assert.fail(), (e) => e)
    assert.equal(anonymous.code, 'UNAUTHENTICATED')
  })

  test('SHA-256 part checksums are computed, signed into the URLs and sent', async () => {
    const { fetch, calls, puts } = instrumentedFetch()
    const result = await upload(file.blob, base({ fetch, checksum: true, partSize: 5 * MIB }))
    await assertStored(result)
    const init = calls.find((c) => c.path.endsWith('/initialize'))
    assert.equal(init.body.checksumAlgorithm, 'SHA256')
    assert.equal(init.body.partSize, 5 * MIB, 'the preferred part size is sent')
    const batch = calls.find((c) => c.path.endsWith('/batch-presigned-urls'))
    for (const put of puts) {
      const part = file.bytes.subarray((put.part - 1) * CHUNK, put.part * CHUNK)
      const digest = createHash('sha256').update(part).digest('base64')
      assert.equal(batch.body.checksums[String(put.part)], digest)
      assert.equal(put.headers['x-amz-checksum-sha256'], digest)
    }
  })
})

describe('integrity: CRC64NVME by default, fingerprints, checked resumes', { timeout: 120_000 }, () => {
  test('the default upload signs each part\'s CRC64NVME and hands complete the whole file\'s', async () => {
    const { fetch, calls, puts } = instrumentedFetch()
    const result = await upload(file.blob, base({ fetch, userId: 'crc-default' }))
    await assertStored(result)
    const init = calls.find((c) => c.path.endsWith('/initialize'))
    assert.equal(init.body.checksumAlgorithm, 'CRC64NVME')
    assert.match(init.body.fingerprint, /^[0-9a-f]{64}$/)
    const crc = (bytes) => crc64nvmeBase64(crc64(bytes))
    for (const put of puts) {
      const part = file.bytes.subarray((put.part - 1) * CHUNK, put.part * CHUNK)
      assert.equal(put.headers['x-amz-checksum-crc64nvme'], crc(part))
    }
    const complete = calls.find((c) => c.path.endsWith('/complete'))
    assert.equal(complete.body.checksum, crc(file.bytes), 'the whole file\'s CRC64NVME, combined from the parts')
    assert.equal(result.checksumAlgorithm, 'CRC64NVME')
    assert.equal(result.checksumType, 'FULL_OBJECT')
  })

  test('a lost initialize answer is retried with the fingerprint: no second upload', async () => {
    const inner = instrumentedFetch()
    let lost = 0
    const fetch = async (input, init = {}) => {
      const response = await inner.fetch(input, init)
      if (String(input).endsWith('/initialize') && lost++ === 0) throw new TypeError('fetch failed (answer lost, injected)')
      return response
    }
    const user = 'lost-answer'
    const result = await upload(file.blob, base({ fetch, userId: user }))
    await assertStored(result)
    assert.equal(inner.calls.filter((c) => c.path.endsWith('/initialize')).length, 2, 'initialize was sent twice')
    const uploads = await new ApiClient(base({ userId: user })).listUploads()
    assert.deepEqual(uploads.uploads.map((u) => [u.uploadId, u.status]), [[result.uploadId, 'COMPLETED']], 'one upload')
  })

  test('an edited file resumed by fingerprint sends the parts that differ again (moto: the client checks)', async () => {
    const user = 'editor'
    const controller = new AbortController()
    const first = await upload(file.blob, base({
      userId: user,
      concurrency: 1,
      signal: controller.signal,
      onPartComplete: (p) => p.partNumber === 3 && controller.abort(),
    })).then(() => assert.fail('must abort'), (e) => e)
    assert.ok(isAbortError(first))
    // 4 KiB change in the middle of part 2: same size, same first and last MiB, same fingerprint.
    const edited = Buffer.from(file.bytes)
    for (let i = CHUNK + 2 * MIB; i < CHUNK + 2 * MIB + 4096; i++) edited[i] ^= 0x5a
    const { fetch, puts } = instrumentedFetch()
    const started = []
    const result = await upload(new Blob([edited]), base({ fetch, userId: user, onStart: (s) => started.push(s) }))
    assert.equal(started[0].uploadId, first.uploadId, 'resumed by fingerprint')
    assert.equal(started[0].partsAlreadyStored, 2, 'parts 1 and 3 kept, part 2 not')
    assert.deepEqual(puts.map((p) => p.part).sort(), [2, 4, 5])
    const stored = await readObject(api.bucket, result.key)
    assert.ok(stored.equals(edited), 'the stored object is the edited file, not a mix')
  })
})

describe('ApiClient (types generated from the generated openapi.yaml)', { timeout: 60_000 }, () => {
  test('initialize, batch URLs, PUT parts, complete without parts, status', async () => {
    const client = new ApiClient({ endpoint: api.endpoint, userId: 'carol' })
    const init = await client.initialize({ fileName: 'flow.bin', fileType: 'application/octet-stream', fileSize: SIZE })
    assert.equal(init.totalParts, PARTS)
    assert.equal(init.chunkSize, CHUNK)
    const { urls } = await client.batchPresignedUrls({ uploadId: init.uploadId, startPart: 1, endPart: init.totalParts })
    assert.equal(urls.length, PARTS)
    for (const url of urls) {
      const start = (url.partNumber - 1) * init.chunkSize
      const body = file.bytes.subarray(start, Math.min(start + init.chunkSize, SIZE))
      const put = await fetch(url.presignedUrl, { method: 'PUT', body, headers: url.headers ?? {} })
      assert.equal(put.status, 200)
      assert.ok(put.headers.get('etag'), 'the PUT answers the ETag header')
    }
    const done = await client.complete({ uploadId: init.uploadId })
    assert.equal(done.status, 'COMPLETED')
    assert.equal(done.size, SIZE)
    const status = await client.status(init.uploadId)
    assert.equal(status.status, 'COMPLETED')
    assert.equal(status.uploadedBytes, SIZE)
    const stored = await readObject(api.bucket, init.key)
    assert.ok(stored.equals(file.bytes))

    // GET /uploads: erin's uploads only, page by page, and a cursor works for its owner alone.
    const erin = new ApiClient({ endpoint: api.endpoint, userId: 'erin-lists' })
    const kept = await erin.initialize({ fileName: 'kept.bin', fileType: 'application/octet-stream', fileSize: 1000 })
    const dropped = await erin.initialize({ fileName: 'dropped.bin', fileType: 'application/octet-stream', fileSize: 2000 })
    await erin.abort({ uploadId: dropped.uploadId })
    const first = await erin.listUploads({ limit: 1 })
    assert.equal(first.uploads.length, 1)
    assert.ok(first.nextCursor, 'a second page')
    const listed = []
    for await (const u of erin.uploads({ limit: 1 })) listed.push(u)
    assert.deepEqual(new Set(listed.map((u) => u.uploadId)), new Set([kept.uploadId, dropped.uploadId]))
    const open = listed.find((u) => u.uploadId === kept.uploadId)
    assert.equal(open.status, 'INITIATED')
    assert.equal(open.uploadedParts, 0)
    assert.equal(listed.find((u) => u.uploadId === dropped.uploadId).status, 'ABORTED')
    const unfinished = await erin.listUploads({ status: 'INITIATED' })
    assert.deepEqual(unfinished.uploads.map((u) => u.uploadId), [kept.uploadId])
    const dave = new ApiClient({ endpoint: api.endpoint, userId: 'dave', maxRetries: 0 })
    await assert.rejects(dave.listUploads({ cursor: first.nextCursor }), (err) => {
      assert.ok(err instanceof UploadError)
      assert.equal(err.code, 'INVALID_CURSOR')
      assert.equal(err.status, 400)
      return true
    })
  })
})
