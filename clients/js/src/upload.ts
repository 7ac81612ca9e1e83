// upload(file, options): a resumable multipart upload. Initialize (or resume a stored upload id),
// fetch part URLs in batches, PUT parts in parallel, each failed part retried alone, then complete.

import {
  ApiClient,
  describe,
  type ApiOptions,
  type CompleteResponse,
  type CompletedPart,
  type PartUrl,
  type StatusResponse,
  type StoredPart,
} from './api.js'
import {
  combineCrc64nvme,
  contentFingerprint,
  crc64nvme,
  crc64nvmeBase64,
  readBlob,
  sha256Base64,
  type ChecksumChoice,
  type Sha256,
} from './checksum.js'
import { md5Hex } from './md5.js'
import { UploadError, abortError, isRetryableStatus } from './errors.js'
import { ProgressMeter, type UploadProgress } from './progress.js'
import { backoffDelay, sleep } from './retry.js'
import { defaultStore, fingerprintOf, forget, loadSaved, save, type StateStore } from './store.js'
import { choosePut, partHeaders, type Transport } from './transport.js'

export interface UploadStart {
  uploadId: string
  key: string
  chunkSize: number
  totalParts: number
  /** True when an earlier upload of this file goes on. */
  resumed: boolean
  /** Parts storage already held. */
  partsAlreadyStored: number
}

export interface PartDone {
  partNumber: number
  size: number
  etag: string | null
}

export interface RetryInfo {
  /** The part retried, or undefined for an API call. */
  partNumber: number
  attempt: number
  delayMs: number
  error: UploadError
}

export interface UploadOptions extends ApiOptions {
  /** Defaults to `file.name`, else "upload". */
  fileName?: string
  /** Defaults to `file.type`, else application/octet-stream. */
  fileType?: string
  /** The preferred part size in bytes (servers that support it honour it between 5 MiB and 5 GiB). */
  partSize?: number
  /** User metadata, stored on the object as S3 user metadata (`x-amz-meta-{key}`); keys `a-z0-9-`, ASCII values, 2 KB in all. */
  metadata?: Record<string, string>
  /** Parts in flight (default 4). Memory stays small: parts are Blob slices, read as they go out. */
  concurrency?: number
  /** URLs per `batch-presigned-urls` call (default 4 × concurrency, at least 8, at most 1000). */
  batchSize?: number
  /**
   * How storage verifies the upload. Default `CRC64NVME`: every part's CRC64NVME is signed into its
   * URL and storage checks the whole file's at complete. `SHA256` (or `true`): each part's SHA-256
   * (WebCrypto, or the `sha256` option). `false`: nothing (as apps that predate checksums).
   */
  checksum?: boolean | 'SHA256' | 'CRC64NVME'
  /** A SHA-256 function for runtimes without `crypto.subtle`. */
  sha256?: Sha256
  /** Aborting stops the upload (pause); it stays resumable. Cancel with `abortUpload`. */
  signal?: AbortSignal
  /** Where the upload id is kept for resuming: default `localStorage` in browsers, memory elsewhere; null: nowhere. */
  store?: StateStore | null
  /** The store's key for this file (default: endpoint, name, type, size, lastModified). */
  fingerprint?: string
  /** Resume this upload (e.g. an id the app kept); otherwise the store's, else a new one. */
  uploadId?: string
  /** `auto` (default): XMLHttpRequest where it exists and no `fetch` option was given, else fetch. */
  transport?: Transport
  onStart?: (start: UploadStart) => void
  onProgress?: (progress: UploadProgress) => void
  onPartComplete?: (part: PartDone) => void
  onRetry?: (retry: RetryInfo) => void
}

export interface UploadResult extends CompleteResponse {
  /** True when the upload continued an earlier one. */
  resumed: boolean
  /** Part PUTs answered 2xx in this run. */
  partsSent: number
}

type FileLike = Blob & { name?: string; lastModified?: number }

interface Plan {
  uploadId: string
  key: string
  chunkSize: number
  totalParts: number
  checksum: ChecksumChoice
  resumed: boolean
  /** part number -> ETag (null when storage or CORS did not tell) of parts already stored. */
  stored: Map<number, { etag: string | null; checksum?: string }>
  /** part number -> CRC64NVME of the local bytes, computed once; complete combines them. */
  crcs: Map<number, bigint>
}

/** Complete repairs differing parts at most this often after storage refused the file's checksum. */
const REPAIRS = 2

function choiceOf(option: UploadOptions['checksum']): ChecksumChoice {
  if (option === undefined || option === 'CRC64NVME') return 'CRC64NVME'
  return option === true || option === 'SHA256' ? 'SHA256' : false
}

function planChoice(algorithm: string | null | undefined): ChecksumChoice {
  if (!algorithm) return false
  if (algorithm === 'CRC64NVME' || algorithm === 'SHA256') return algorithm
  throw new UploadError('CHECKSUM_UNAVAILABLE', `this client computes CRC64NVME and SHA256, not ${algorithm}`)
}

/** Uploads `file`, resuming an earlier upload of it when the store or `uploadId` names one. */
export async function upload(file: FileLike, options: UploadOptions): Promise<UploadResult> {
  if (!(file.size > 0)) throw new UploadError('INVALID_FILE_SIZE', 'the file is empty')
  const api = new ApiClient(options)
  const signal = options.signal
  const fileName = options.fileName ?? (file.name || 'upload')
  const fileType = options.fileType ?? (file.type || 'application/octet-stream')
  const store = options.store === undefined ? defaultStore() : options.store
  const fingerprint = fingerprintFor(file, options)

  let plan: Plan | null = null
  const saved = options.uploadId ? null : await loadSaved(store, fingerprint)
  const earlier = options.uploadId ?? saved?.uploadId
  if (earlier) {
    const found = await resume(api, file, earlier, options, options.uploadId !== undefined)
    if (found?.completed) {
      // Completed earlier, e.g. by a run that died before it could forget the upload.
      await forget(store, fingerprint)
      return { ...found.completed, resumed: true, partsSent: 0 }
    }
    plan = found?.plan ?? null
    if (!plan) await forget(store, fingerprint)
  }
  if (!plan) {
    const choice = choiceOf(options.checksum)
    // The file's content fingerprint makes initialize safe to retry: a lost answer's retry gets the
    // same upload back (resumed), as does a run that lost the store entry.
    const content = await contentFingerprint(file, choice, options.sha256)
    const init = await api.initialize(
      {
        fileName,
        fileType,
        fileSize: file.size,
        ...(choice ? { checksumAlgorithm: choice } : {}),
        ...(content ? { fingerprint: content } : {}),
        ...(options.partSize ? { partSize: options.partSize } : {}),
        ...(options.metadata && Object.keys(options.metadata).length > 0 ? { metadata: options.metadata } : {}),
      },
      signal,
    )
    plan = {
      uploadId: init.uploadId,
      key: init.key,
      chunkSize: init.chunkSize,
      totalParts: init.totalParts,
      checksum: planChoice(init.checksumAlgorithm),
      resumed: init.resumed === true,
      stored: new Map(),
      crcs: new Map(),
    }
    // Resumed by fingerprint: the stored parts may be another file's with the same size and edges.
    if (init.parts?.length) await keepMatching(plan, file, init.parts, options)
    await save(store, fingerprint, {
      uploadId: init.uploadId,
      key: init.key,
      fileSize: file.size,
      chunkSize: init.chunkSize,
      totalParts: init.totalParts,
      endpoint: api.endpoint,
      savedAt: new Date().toISOString(),
    })
  }
  const p = plan
  try {
    options.onStart?.({
      uploadId: p.uploadId,
      key: p.key,
      chunkSize: p.chunkSize,
      totalParts: p.totalParts,
      resumed: p.resumed,
      partsAlreadyStored: p.stored.size,
    })
    const sent = await sendParts(api, file, p, options)
    const done = await finish(api, file, p, options)
    await forget(store, fingerprint)
    return { ...done.completed, resumed: p.resumed, partsSent: sent + done.sent }
  } catch (err) {
    if (err instanceof UploadError) err.uploadId ??= p.uploadId
    throw err
  }
}

/** The store key of `file`: `options.fingerprint`, else endpoint, name, type, size and lastModified. */
export function fingerprintFor(file: FileLike, options: Pick<UploadOptions, 'fingerprint' | 'fileName' | 'endpoint'>): string {
  return (
    options.fingerprint ??
    fingerprintOf(file, options.fileName ?? (file.name || 'upload'), options.endpoint.replace(/\/+$/, ''))
  )
}

/** Cancels an upload for good: `POST /abort` and the store entry removed. */
export async function abortUpload(
  uploadId: string,
  options: ApiOptions & { store?: StateStore | null; fingerprint?: string },
): Promise<void> {
  const api = new ApiClient(options)
  try {
    await api.abort({ uploadId })
  } catch (err) {
    // Already gone is what was wanted.
    if (!(err instanceof UploadError && ['UPLOAD_NOT_FOUND', 'UPLOAD_ABORTED', 'UPLOAD_EXPIRED'].includes(err.code)))
      throw err
  }
  if (options.fingerprint) await forget(options.store === undefined ? defaultStore() : options.store, options.fingerprint)
}

/**
 * What is left of an earlier upload: its plan and stored parts, the completed result, or null
 * (gone, for a stored id: start over). An explicit id that cannot resume throws.
 */
async function resume(
  api: ApiClient,
  file: Blob,
  uploadId: string,
  options: UploadOptions,
  explicit: boolean,
): Promise<{ plan: Plan; completed?: undefined } | { completed: CompleteResponse; plan?: undefined } | null> {
  const signal = options.signal
  const fileSize = file.size
  let status: StatusResponse
  try {
    status = await api.status(uploadId, signal)
  } catch (err) {
    if (!explicit && err instanceof UploadError && (err.code === 'UPLOAD_NOT_FOUND' || err.code === 'INVALID_UPLOAD_ID'))
      return null
    throw err
  }
  if (status.fileSize !== fileSize) {
    if (!explicit) return null
    throw new UploadError(
      'FILE_MISMATCH',
      `upload ${uploadId} is for ${status.fileSize} bytes, this file has ${fileSize}`,
      { uploadId },
    )
  }
  switch (status.status) {
    case 'COMPLETED':
      return {
        completed: {
          uploadId,
          status: 'COMPLETED',
          key: status.key,
          size: status.fileSize,
          etag: status.etag ?? null,
          location: status.location ?? null,
          completedAt: status.completedAt ?? null,
          checksum: status.checksum ?? null,
          ...(status.checksumAlgorithm ? { checksumAlgorithm: status.checksumAlgorithm } : {}),
          ...(status.checksumType ? { checksumType: status.checksumType } : {}),
        },
      }
    case 'ABORTED':
    case 'EXPIRED':
      if (!explicit) return null
      throw new UploadError(`UPLOAD_${status.status}`, `upload ${uploadId} is ${status.status}`, { uploadId })
  }
  const listed = await api.listParts(uploadId, signal)
  const plan: Plan = {
    uploadId,
    key: status.key,
    chunkSize: status.chunkSize,
    totalParts: status.totalParts,
    checksum: planChoice(status.checksumAlgorithm),
    resumed: true,
    stored: new Map(),
    crcs: new Map(),
  }
  await keepMatching(plan, file, listed.parts, options)
  return { plan }
}

/**
 * Keeps the stored parts whose bytes are the local ones: by the part's stored checksum in the
 * upload's algorithm where storage reports one, else by its ETag as an MD5. A part of the wrong
 * size (another file, a cut-off PUT), one that differs (the file was edited) or one that cannot be
 * checked is sent again. Reads each listed part once.
 */
async function keepMatching(plan: Plan, file: Blob, parts: StoredPart[], options: UploadOptions): Promise<void> {
  plan.stored.clear()
  for (const part of parts) {
    const n = part.PartNumber
    if (n < 1 || n > plan.totalParts || part.Size !== partSize(n, plan.chunkSize, file.size)) continue
    const bytes = slicePart(file, plan, n)
    let same = false
    const storedSum = plan.checksum ? part.Checksum : undefined
    if (storedSum) {
      const crc = plan.checksum === 'CRC64NVME' ? await crc64nvme(bytes) : undefined
      if (crc !== undefined) plan.crcs.set(n, crc)
      const ours = crc !== undefined ? crc64nvmeBase64(crc) : await sha256Base64(bytes, options.sha256)
      same = ours === storedSum.trim()
    } else {
      const etag = (part.ETag ?? '').trim().replace(/^"|"$/g, '').toLowerCase()
      if (/^[0-9a-f]{32}$/.test(etag)) same = md5Hex(new Uint8Array(await readBlob(bytes))) === etag
    }
    if (same) plan.stored.set(n, { etag: part.ETag ?? null, ...(storedSum ? { checksum: storedSum } : {}) })
  }
}

function slicePart(file: Blob, plan: Plan, n: number): Blob {
  return file.slice((n - 1) * plan.chunkSize, Math.min(file.size, n * plan.chunkSize))
}

function partSize(n: number, chunk: number, fileSize: number): number {
  return Math.min(chunk, fileSize - (n - 1) * chunk)
}

/** Sends every part not stored yet; returns how many PUTs succeeded. */
async function sendParts(api: ApiClient, file: Blob, plan: Plan, options: UploadOptions): Promise<number> {
  const pending: number[] = []
  for (let n = 1; n <= plan.totalParts; n++) if (!plan.stored.has(n)) pending.push(n)
  const concurrency = Math.max(1, Math.floor(options.concurrency ?? 4))
  const batchSize = Math.min(1000, Math.max(1, Math.floor(options.batchSize ?? Math.max(8, 4 * concurrency))))
  const maxRetries = options.maxRetries ?? 5
  const put = choosePut(options.transport ?? 'auto', options.fetch)

  // One controller for the run: the caller's signal, or the first part that fails for good, stops all.
  const run = new AbortController()
  const onOuterAbort = () => run.abort(options.signal?.reason)
  if (options.signal?.aborted) throw abortError(options.signal)
  options.signal?.addEventListener('abort', onOuterAbort, { once: true })
  let fatal: unknown

  const slice = (n: number) => slicePart(file, plan, n)
  const digests = new Map<number, Promise<string>>()
  // The part's checksum in the upload's algorithm, computed once from the bytes before its URL is
  // asked for; a CRC64NVME is kept for the whole file's value.
  const digest = (n: number) => {
    let d = digests.get(n)
    if (!d) {
      d =
        plan.checksum === 'CRC64NVME'
          ? crc64nvme(slice(n)).then((crc) => {
              plan.crcs.set(n, crc)
              return crc64nvmeBase64(crc)
            })
          : sha256Base64(slice(n), options.sha256)
      digests.set(n, d)
    }
    return d
  }

  // URLs: pending parts in groups of `batchSize`, each group fetched once, the next group asked
  // for while the current one is being sent.
  const urls = new Map<number, PartUrl>()
  const groups = new Map<number, Promise<void>>()
  const fetchGroup = (g: number): Promise<void> => {
    let promise = groups.get(g)
    if (!promise) {
      const numbers = pending.slice(g * batchSize, (g + 1) * batchSize)
      promise = fetchUrls(numbers)
      groups.set(g, promise)
      // A failed group is fetched again by the next part that needs it.
      promise.catch(() => groups.delete(g))
    }
    return promise
  }
  const fetchUrls = async (numbers: number[]) => {
    for (const run_ of contiguousRuns(numbers)) {
      const start = run_[0]!
      const end = run_[run_.length - 1]!
      const checksums = plan.checksum
        ? Object.fromEntries(await Promise.all(run_.map(async (n) => [String(n), await digest(n)] as const)))
        : undefined
      const answer = await api.batchPresignedUrls(
        { uploadId: plan.uploadId, startPart: start, endPart: end, ...(checksums ? { checksums } : {}) },
        run.signal,
      )
      for (const u of answer.urls) urls.set(u.partNumber, u)
    }
  }
  const freshUrl = async (n: number) => {
    const answer = await api.presignedUrl(
      { uploadId: plan.uploadId, partNumber: n, ...(plan.checksum ? { checksum: await digest(n) } : {}) },
      run.signal,
    )
    urls.set(n, answer)
  }

  // Progress: stored bytes plus what in-flight parts have sent.
  const meter = new ProgressMeter()
  const inFlight = new Map<number, number>()
  let storedBytes = 0
  for (const n of plan.stored.keys()) storedBytes += partSize(n, plan.chunkSize, file.size)
  const startBytes = storedBytes
  let partsDone = plan.stored.size
  const report = () => {
    if (!options.onProgress) return
    let bytes = storedBytes
    for (const b of inFlight.values()) bytes += b
    const { bytesPerSecond, etaSeconds } = meter.sample(bytes - startBytes, file.size - startBytes)
    options.onProgress({
      uploadId: plan.uploadId,
      bytesUploaded: bytes,
      bytesTotal: file.size,
      partsDone,
      totalParts: plan.totalParts,
      bytesPerSecond,
      etaSeconds,
    })
  }
  report()

  let sent = 0
  const sendPart = async (index: number) => {
    const n = pending[index]!
    const group = Math.floor(index / batchSize)
    // Ask for the next group's URLs while this one's parts go out.
    if (index % batchSize === Math.min(concurrency, batchSize) - 1 && (group + 1) * batchSize < pending.length) {
      fetchGroup(group + 1).catch(() => {})
    }
    let refresh = false
    for (let attempt = 0; ; attempt++) {
      let failure: UploadError
      let delay = 0
      try {
        if (refresh) await freshUrl(n)
        else if (!urls.has(n)) await fetchGroup(group)
        refresh = false
        const url = urls.get(n)
        if (!url) throw new UploadError('INVALID_RESPONSE', `no URL for part ${n} in the API's answer`)
        inFlight.set(n, 0)
        const answer = await put({
          url: url.presignedUrl,
          headers: partHeaders(url.headers),
          body: slice(n),
          signal: run.signal,
          onProgress: (bytes) => {
            inFlight.set(n, bytes)
            report()
          },
        })
        inFlight.delete(n)
        if (answer.status >= 200 && answer.status < 300) {
          const size = partSize(n, plan.chunkSize, file.size)
          plan.stored.set(n, {
            etag: answer.etag,
            ...(plan.checksum ? { checksum: await digest(n) } : {}),
          })
          storedBytes += size
          partsDone++
          sent++
          urls.delete(n)
          report()
          options.onPartComplete?.({ partNumber: n, size, etag: answer.etag })
          return
        }
        failure = new UploadError(
          'PART_UPLOAD_FAILED',
          `part ${n}: storage answered ${answer.status}${s3Code(answer.body)}`,
          { status: answer.status, partNumber: n },
        )
        if (answer.status === 403) {
          // An expired URL (or one the clock skewed): ask for a fresh one, at once the first time.
          refresh = true
          delay = attempt === 0 ? 0 : backoffDelay(attempt, options)
        } else if (isRetryableStatus(answer.status)) {
          delay = backoffDelay(attempt + 1, options)
        } else {
          throw failure
        }
      } catch (err) {
        inFlight.delete(n)
        if (run.signal.aborted) throw fatal ?? abortError(options.signal)
        // API refusals (after the API client's own retries) and final part answers end the run;
        // no answer at all is retried like a 5xx.
        if (err instanceof UploadError && err.code !== 'NETWORK_ERROR') throw err
        failure =
          err instanceof UploadError
            ? err
            : new UploadError('NETWORK_ERROR', `part ${n}: ${describe(err)}`, { partNumber: n, cause: err })
        delay = backoffDelay(attempt + 1, options)
      }
      if (attempt >= maxRetries) {
        throw new UploadError(
          failure.code === 'NETWORK_ERROR' ? 'NETWORK_ERROR' : 'PART_UPLOAD_FAILED',
          `part ${n} failed after ${attempt + 1} tries, giving up: ${failure.message}`,
          { partNumber: n, cause: failure, ...(failure.status !== undefined ? { status: failure.status } : {}) },
        )
      }
      report()
      options.onRetry?.({ partNumber: n, attempt: attempt + 1, delayMs: delay, error: failure })
      if (delay > 0) await sleep(delay, run.signal)
    }
  }

  let next = 0
  const worker = async () => {
    while (next < pending.length && !run.signal.aborted) {
      const index = next++
      try {
        await sendPart(index)
      } catch (err) {
        if (!run.signal.aborted) {
          fatal = err
          run.abort(err)
        }
        throw fatal ?? err
      }
    }
  }
  try {
    const results = await Promise.allSettled(Array.from({ length: Math.min(concurrency, pending.length) }, worker))
    if (fatal) throw fatal
    if (run.signal.aborted) throw abortError(options.signal)
    const failed = results.find((r) => r.status === 'rejected')
    if (failed) throw (failed as PromiseRejectedResult).reason
  } finally {
    options.signal?.removeEventListener('abort', onOuterAbort)
  }
  return sent
}

/**
 * `POST /complete`, with the parts when every ETag is known, else letting the server read them, and
 * for CRC64NVME the whole file's value, combined from the parts'. When storage refuses that value
 * (`CHECKSUM_MISMATCH`), the parts that differ are found and sent again, at most {@link REPAIRS} times.
 */
async function finish(api: ApiClient, file: Blob, plan: Plan, options: UploadOptions): Promise<{ completed: CompleteResponse; sent: number }> {
  let sent = 0
  for (let repairs = 0; ; repairs++) {
    try {
      return { completed: await complete(api, file, plan, options), sent }
    } catch (err) {
      if (!(err instanceof UploadError && err.code === 'CHECKSUM_MISMATCH') || repairs >= REPAIRS) throw err
      options.onRetry?.({ partNumber: 0, attempt: repairs + 1, delayMs: 0, error: err })
      const listed = await api.listParts(plan.uploadId, options.signal)
      plan.crcs.clear()
      await keepMatching(plan, file, listed.parts, options)
      sent += await sendParts(api, file, plan, options)
    }
  }
}

async function complete(api: ApiClient, file: Blob, plan: Plan, options: UploadOptions): Promise<CompleteResponse> {
  let whole: string | undefined
  if (plan.checksum === 'CRC64NVME') {
    const crcs: bigint[] = []
    for (let n = 1; n <= plan.totalParts; n++) {
      let crc = plan.crcs.get(n)
      if (crc === undefined) {
        crc = await crc64nvme(slicePart(file, plan, n))
        plan.crcs.set(n, crc)
      }
      crcs.push(crc)
    }
    whole = crc64nvmeBase64(combineCrc64nvme(crcs, plan.chunkSize, partSize(plan.totalParts, plan.chunkSize, file.size)))
  }
  const parts: CompletedPart[] = []
  for (let n = 1; n <= plan.totalParts; n++) {
    const part = plan.stored.get(n)
    if (!part?.etag) {
      parts.length = 0
      break
    }
    const crc = plan.crcs.get(n)
    const sum =
      plan.checksum === 'CRC64NVME' && crc !== undefined
        ? { ChecksumCRC64NVME: crc64nvmeBase64(crc) }
        : plan.checksum === 'SHA256' && part.checksum
          ? { ChecksumSHA256: part.checksum }
          : {}
    parts.push({ PartNumber: n, ETag: part.etag, ...sum })
  }
  for (let attempt = 1; ; attempt++) {
    try {
      return await api.complete(
        { uploadId: plan.uploadId, ...(parts.length ? { parts } : {}), ...(whole ? { checksum: whole } : {}) },
        options.signal,
      )
    } catch (err) {
      // Another complete of the same upload is running: its outcome is ours.
      if (err instanceof UploadError && err.code === 'COMPLETION_IN_PROGRESS' && attempt <= 10) {
        await sleep(backoffDelay(attempt, options), options.signal)
        continue
      }
      throw err
    }
  }
}

function contiguousRuns(numbers: number[]): number[][] {
  const runs: number[][] = []
  for (const n of numbers) {
    const last = runs[runs.length - 1]
    if (last && last[last.length - 1] === n - 1) last.push(n)
    else runs.push([n])
  }
  return runs
}

/** S3's `<Code>` from an XML error body, for the message. */
function s3Code(body: string): string {
  const code = /<Code>([^<]+)<\/Code>/.exec(body)?.[1]
  const message = /<Message>([^<]+)<\/Message>/.exec(body)?.[1]
  return code ? ` ${code}${message ? `: ${message}` : ''}` : ''
}
