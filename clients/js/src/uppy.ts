// An Uppy 6 uploader plugin for the multipart upload API, built the way @uppy/tus is: it registers
// an uploader with Uppy's core (addUploader) and drives one resumable `Upload` per file, reporting
// through Uppy's own events, so the Dashboard's progress, pause/resume, retry and cancel all work.
//
//   import Uppy from '@uppy/core'
//   import Dashboard from '@uppy/dashboard'
//   import MultipartUpload from '@multipart-upload/client/uppy'
//   new Uppy().use(Dashboard, { inline: true, target: '#app' })
//     .use(MultipartUpload, { endpoint: 'https://api.example.com/api/v1/multipart-upload', token: getJwt })

import type { Body, DefinePluginOpts, Meta, PluginOpts, Uppy, UppyFile } from '@uppy/core'
import { BasePlugin, EventManager } from '@uppy/core'
import { filterFilesToEmitUploadStarted, filterFilesToUpload, RateLimitedQueue } from '@uppy/core/utils'
import { Upload } from './controller.js'
import { defaultStore, type StateStore } from './store.js'
import type { UploadOptions, UploadResult } from './upload.js'

type PerUploadHooks = 'headers' | 'signal' | 'uploadId' | 'fileName' | 'fileType' | 'fingerprint' | 'onStart' | 'onProgress'

export interface MultipartUploadOpts<M extends Meta, B extends Body>
  extends PluginOpts,
    Omit<UploadOptions, PerUploadHooks> {
  /** Files uploaded at once (default 3); each sends `concurrency` parts in parallel. */
  limit?: number
  /** Extra API headers, also per file. */
  headers?: Record<string, string> | ((file: UppyFile<M, B>) => Record<string, string>)
}

const defaultOptions = {
  limit: 3,
} satisfies Partial<MultipartUploadOpts<any, any>>

type Opts<M extends Meta, B extends Body> = DefinePluginOpts<MultipartUploadOpts<M, B>, keyof typeof defaultOptions>

/** What `upload-success` carries as `response.body`: the API's complete answer. */
export type MultipartUploadBody = UploadResult

/** Kept on each Uppy file: the upload id, e.g. to show it or to resume it with `upload()`. */
export interface MultipartUploadFileState {
  uploadId: string
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
      const { headers, limit: _limit, id: _id, locale: _locale, ...common } = this.opts
      const upload = new Upload(file.data as Blob, {
        ...common,
        store: this.store,
        ...(headers ? { headers: typeof headers === 'function' ? headers(file) : headers } : {}),
        fileName: file.name ?? 'upload',
        fileType: file.type || 'application/octet-stream',
        // Uppy's file id (name, type, size, relative path, lastModified) keys the resumable upload,
        // so a retry or a re-added file after a reload continues where it stopped.
        fingerprint: `uppy:${this.opts.endpoint}:${file.id}`,
        onStart: (start) => {
          const current = this.uppy.getFile(file.id)
          if (current) this.uppy.setFileState(file.id, { multipartUpload: { uploadId: start.uploadId } })
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
      this.uppy.emit('upload-error', this.uppy.getFile(file.id), error)
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
