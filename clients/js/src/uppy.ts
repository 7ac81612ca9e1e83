// An Uppy 6 uploader plugin for the multipart upload API, built the way @uppy/tus is: it registers
// an uploader with Uppy's core (addUploader) and drives one resumable `Upload` per file, reporting
// through Uppy's own events, so the Dashboard's progress, pause/resume, retry and cancel all work.
//
//   import Uppy from '@uppy/core'
//   import Dashboard from '@uppy/dashboard'
//   import MultipartUpload from '@multipart-upload/client/uppy'
//   new Uppy<Meta, MultipartUploadBody>().use(Dashboard, { inline: true, target: '#app' })
//     .use(MultipartUpload, { endpoint: 'https://api.example.com/api/v1/multipart-upload', token: getJwt,
//       limit: 3, retryDelays: [0, 1000, 3000, 5000], partSize: 16 * 1024 * 1024, allowedMetaFields: ['album'] })
//
// Uppy's conventions: `limit` (files at once), `retryDelays` (one retry per entry, as @uppy/aws-s3 and
// @uppy/tus), `allowedMetaFields` (file meta sent as the upload's metadata, stored on the object as
// x-amz-meta-*), `upload-error` with the HTTP response, a per-part `multipart-upload:part-uploaded`
// event, and Golden Retriever: the upload id kept on `file.multipartUpload` is read back after a
// reload, so only the parts storage lacks are sent.

import type { Body, DefinePluginOpts, Meta, PluginOpts, Uppy, UppyFile } from '@uppy/core'
import { UploadError } from './errors.js'
import { BasePlugin, EventManager } from '@uppy/core'
import { filterFilesToEmitUploadStarted, filterFilesToUpload, RateLimitedQueue } from '@uppy/core/utils'
import { Upload } from './controller.js'
import { defaultStore, memoryStore, STORE_PREFIX, type SavedUpload, type StateStore } from './store.js'
import type { PartDone, UploadOptions, UploadResult } from './upload.js'

type PerUploadHooks =
  | 'headers'
  | 'signal'
  | 'uploadId'
  | 'fileName'
  | 'fileType'
  | 'fingerprint'
  | 'metadata'
  | 'onStart'
  | 'onProgress'

export interface MultipartUploadOpts<M extends Meta, B extends Body>
  extends PluginOpts,
    Omit<UploadOptions, PerUploadHooks> {
  /** Files uploaded at once (default 3); each sends `concurrency` parts in parallel. */
  limit?: number
  /** Extra API headers, also per file. */
  headers?: Record<string, string> | ((file: UppyFile<M, B>) => Record<string, string>)
  /**
   * Which of the file's meta fields become the upload's `metadata` (S3 user metadata,
   * `x-amz-meta-{field}`): a list of field names (sent as strings; the server refuses keys outside
   * `a-z0-9-` and non-ASCII values with INVALID_METADATA), `true` for every field whose key and
   * string value the server accepts (default), `false` for none.
   */
  allowedMetaFields?: boolean | string[]
  /**
   * Accepted as @uppy/aws-s3 takes it, so its configurations type-check. Every file goes through
   * the multipart API whatever it says: a file no larger than one part is one PUT, which is what
   * `false` asks for; a larger one is always sent in parts, resumable.
   */
  shouldUseMultipart?: boolean | ((file: UppyFile<M, B>) => boolean)
}

const defaultOptions = {
  limit: 3,
  allowedMetaFields: true,
} satisfies Partial<MultipartUploadOpts<any, any>>

type Opts<M extends Meta, B extends Body> = DefinePluginOpts<MultipartUploadOpts<M, B>, keyof typeof defaultOptions>

/**
 * What `upload-success` carries as `response.body`: the API's complete answer. A type alias (not an
 * interface), so it satisfies Uppy's `Body` and `new Uppy<M, MultipartUploadBody>()` type-checks.
 */
export type MultipartUploadBody = Pick<UploadResult, keyof UploadResult>

/**
 * Kept on each Uppy file: the upload id, e.g. to show it or to resume it with `upload()`. Golden
 * Retriever saves it with the file, and the plugin reads it back after a reload to resume.
 */
export interface MultipartUploadFileState {
  uploadId: string
  key?: string
}

const KEY = /^[a-z0-9-]{1,128}$/
const VALUE = /^(?! )[\x20-\x7e]*(?<! )$/

/** The file's meta fields that `allowedMetaFields` lets through, as the upload's metadata. */
export function metadataOf(meta: Record<string, unknown>, allowed: boolean | string[]): Record<string, string> {
  const out: Record<string, string> = {}
  if (allowed === false) return out
  const names = allowed === true ? Object.keys(meta) : allowed
  for (const name of names) {
    const value = meta[name]
    if (value === undefined || value === null) continue
    const text = typeof value === 'string' ? value : String(value)
    // `true` takes what the server accepts; named fields are sent as they are (a refusal is loud).
    if (allowed === true && (typeof value !== 'string' || !KEY.test(name) || !VALUE.test(text))) continue
    out[name] = text
  }
  return out
}

/** `store`, answering the restored upload id for `key` until the upload saves or forgets its own. */
function restoring(store: StateStore | null, key: string, saved: SavedUpload): StateStore {
  const base = store ?? memoryStore()
  let restored: string | null = JSON.stringify(saved)
  return {
    getItem: async (k) => (await base.getItem(k)) ?? (k === key ? restored : null),
    setItem: (k, v) => base.setItem(k, v),
    removeItem: (k) => {
      if (k === key) restored = null
      return base.removeItem(k)
    },
  }
}

declare module '@uppy/core/utils' {
  export interface LocalUppyFile<M extends Meta, B extends Body> {
    multipartUpload?: MultipartUploadFileState
  }
  export interface RemoteUppyFile<M extends Meta, B extends Body> {
    multipartUpload?: MultipartUploadFileState
  }
}

declare module '@uppy/core' {
  export interface PluginTypeRegistry<M extends Meta, B extends Body> {
    MultipartUpload: MultipartUpload<M, B>
  }
  export interface UppyEventMap<M extends Meta, B extends Body> {
    /** A part is stored (its PUT answered 2xx), as @uppy/aws-s3's `s3-multipart:part-uploaded`. */
    'multipart-upload:part-uploaded': (file: UppyFile<M, B> | undefined, part: PartDone) => void
  }
}

type Queued = ReturnType<RateLimitedQueue['run']>

export default class MultipartUpload<M extends Meta, B extends Body> extends BasePlugin<Opts<M, B>, M, B> {
  static VERSION = '0.1.0'

  /** Shared by all files: at most `limit` of them send parts at once. */
  requests: RateLimitedQueue

  uploaders: Record<string, Upload | null> = Object.create(null)

  uploaderEvents: Record<string, EventManager<M, B> | null> = Object.create(null)

  /** One store for every file, so a retry finds the upload id wherever the plugin runs. */
  store: StateStore | null

  constructor(uppy: Uppy<M, B>, opts: MultipartUploadOpts<M, B>) {
    super(uppy, { ...defaultOptions, ...opts })
    this.type = 'uploader'
    this.id = this.opts.id || 'MultipartUpload'
    if (!this.opts.endpoint) throw new Error('MultipartUpload: the `endpoint` option is required')
    this.requests = new RateLimitedQueue(this.opts.limit)
    if (this.opts.retryDelays && this.opts.maxRetries === undefined) this.opts.maxRetries = this.opts.retryDelays.length
    this.store = this.opts.store === undefined ? defaultStore() : this.opts.store
  }

  #resetUploaderReferences(fileID: string): void {
    this.uploaders[fileID] = null
    this.uploaderEvents[fileID]?.remove()
    this.uploaderEvents[fileID] = null
  }

  /**
   * One file: an `Upload` run through the queue. Pausing aborts the parts in flight and leaves the
   * queue; resuming (or retrying after an error) queues again and sends only the parts storage
   * lacks. Removing the file or cancelling all aborts the upload on the server.
   */
  #uploadLocalFile(file: UppyFile<M, B>): Promise<UploadResult | string> {
    this.uploaders[file.id]?.pause()
    this.#resetUploaderReferences(file.id)

    return new Promise<UploadResult | string>((resolve, reject) => {
      if (file.isRemote || file.data == null) {
        reject(new Error('MultipartUpload uploads local files only (no Companion)'))
        return
      }
      const { headers, limit: _limit, id: _id, locale: _locale, allowedMetaFields, shouldUseMultipart: _multipart, ...common } = this.opts
      // Uppy's file id (name, type, size, relative path, lastModified) keys the resumable upload,
      // so a retry or a re-added file after a reload continues where it stopped.
      const fingerprint = `uppy:${this.opts.endpoint}:${file.id}`
      // Golden Retriever restores the file with the upload id it had: resume that upload (or start
      // afresh should it be gone), whether or not `store` kept it.
      const kept = file.multipartUpload
      const store = kept?.uploadId
        ? restoring(this.store, STORE_PREFIX + fingerprint, {
            uploadId: kept.uploadId,
            key: kept.key ?? '',
            fileSize: file.size ?? 0,
            chunkSize: 0,
            totalParts: 0,
            endpoint: this.opts.endpoint,
            savedAt: new Date().toISOString(),
          })
        : this.store
      const metadata = metadataOf(file.meta, allowedMetaFields)
      const upload = new Upload(file.data as Blob, {
        ...common,
        store,
        ...(headers ? { headers: typeof headers === 'function' ? headers(file) : headers } : {}),
        ...(Object.keys(metadata).length > 0 ? { metadata } : {}),
        fileName: file.name ?? 'upload',
        fileType: file.type || 'application/octet-stream',
        fingerprint,
        onStart: (start) => {
          const current = this.uppy.getFile(file.id)
          if (current) this.uppy.setFileState(file.id, { multipartUpload: { uploadId: start.uploadId, key: start.key } })
          this.uppy.log(`[MultipartUpload] ${start.resumed ? 'resuming' : 'started'} ${start.uploadId}: ${start.totalParts} parts, ${start.partsAlreadyStored} stored`)
        },
        onProgress: (progress) => {
          const current = this.uppy.getFile(file.id)
          if (!current) return
          this.uppy.emit('upload-progress', current, {
            uploadStarted: current.progress.uploadStarted ?? Date.now(),
            bytesUploaded: progress.bytesUploaded,
            bytesTotal: progress.bytesTotal,
          })
        },
        onPartComplete: (part) => {
          this.uppy.emit('multipart-upload:part-uploaded', this.uppy.getFile(file.id), part)
          this.opts.onPartComplete?.(part)
        },
        onRetry: (retry) => {
          this.uppy.log(`[MultipartUpload] part ${retry.partNumber}: ${retry.error.message}; retry ${retry.attempt} in ${Math.round(retry.delayMs)} ms`)
          this.opts.onRetry?.(retry)
        },
      })
      this.uploaders[file.id] = upload
      const events = new EventManager(this.uppy)
      this.uploaderEvents[file.id] = events

      let queued: Queued
      const start = () => {
        if (!this.uppy.getFile(file.id)?.isPaused) upload.start()
        return () => {}
      }
      queued = this.requests.run(start)

      upload.result.then(
        (result) => {
          queued.done()
          this.#resetUploaderReferences(file.id)
          const response = { status: 200, body: result as unknown as B, uploadURL: result.location ?? result.key }
          this.uppy.emit('upload-success', this.uppy.getFile(file.id), response)
          resolve(result)
        },
        (err: unknown) => {
          if (upload.state === 'cancelled') return // resolved by the cancel below
          queued.done()
          this.#resetUploaderReferences(file.id)
          reject(err)
        },
      )

      const cancel = (why: string) => {
        queued.abort()
        this.#resetUploaderReferences(file.id)
        upload.cancel().catch((err: unknown) => this.uppy.log(`[MultipartUpload] abort: ${String(err)}`, 'warning'))
        resolve(`upload ${file.id} was ${why}`)
      }
      events.onFileRemove(file.id, () => cancel('removed'))
      events.onCancelAll(file.id, () => cancel('cancelled'))
      events.onPause(file.id, (isPaused) => {
        queued.abort()
        if (isPaused) {
          upload.pause()
        } else {
          // Queued again, so resuming a file cannot skip the limit.
          queued = this.requests.run(start)
        }
      })
      events.onPauseAll(file.id, () => {
        queued.abort()
        upload.pause()
      })
      events.onResumeAll(file.id, () => {
        queued.abort()
        queued = this.requests.run(start)
      })
    }).catch((err: unknown) => {
      const error = err instanceof Error ? err : new Error(String(err))
      // The HTTP answer that ended the upload, as @uppy/aws-s3 and @uppy/tus pass it.
      const status = err instanceof UploadError ? err.status : undefined
      const current = this.uppy.getFile(file.id)
      const response = status === undefined ? undefined : { status, bytesUploaded: current?.progress.bytesUploaded || 0 }
      this.uppy.emit('upload-error', current, error, response)
      throw error
    })
  }

  async #uploadFiles(files: UppyFile<M, B>[]): Promise<void> {
    const toUpload = filterFilesToUpload(files)
    this.uppy.emit('upload-start', filterFilesToEmitUploadStarted(toUpload))
    await Promise.allSettled(toUpload.map((file) => this.#uploadLocalFile(file)))
  }

  #handleUpload = async (fileIDs: string[]): Promise<void> => {
    if (fileIDs.length === 0) return
    await this.#uploadFiles(this.uppy.getFilesByIds(fileIDs))
  }

  override install(): void {
    this.uppy.setState({
      capabilities: { ...this.uppy.getState().capabilities, resumableUploads: true },
    })
    this.uppy.addUploader(this.#handleUpload)
  }

  override uninstall(): void {
    this.uppy.setState({
      capabilities: { ...this.uppy.getState().capabilities, resumableUploads: false },
    })
    this.uppy.removeUploader(this.#handleUpload)
  }
}
