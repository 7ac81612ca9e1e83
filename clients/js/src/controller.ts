// An upload as an object with pause(), resume() and cancel(), over upload() and its AbortSignal:
// pausing aborts the parts in flight and keeps the upload; resuming asks GET /parts what is stored
// and sends the rest.

import { UploadError, isAbortError } from './errors.js'
import { abortUpload, fingerprintFor, upload, type UploadOptions, type UploadResult } from './upload.js'

export type UploadState = 'idle' | 'uploading' | 'paused' | 'completed' | 'failed' | 'cancelled'

export class Upload {
  readonly file: Blob
  readonly options: UploadOptions
  uploadId: string | undefined
  state: UploadState = 'idle'
  /** Settles once: the result, or the error that ended the upload (not a pause). */
  readonly result: Promise<UploadResult>
  #controller: AbortController | undefined
  #resolve!: (r: UploadResult) => void
  #reject!: (e: unknown) => void

  constructor(file: Blob, options: UploadOptions) {
    this.file = file
    this.options = { ...options, fingerprint: fingerprintFor(file, options) }
    this.uploadId = options.uploadId
    this.result = new Promise((resolve, reject) => {
      this.#resolve = resolve
      this.#reject = reject
    })
    // Callers that only use events must not get an unhandled rejection.
    this.result.catch(() => {})
  }

  /** Starts, or resumes after pause() or a failure. */
  start(): Promise<UploadResult> {
    if (this.state === 'uploading' || this.state === 'completed' || this.state === 'cancelled') return this.result
    const controller = new AbortController()
    this.#controller = controller
    this.state = 'uploading'
    const outer = this.options.signal
    outer?.addEventListener('abort', () => controller.abort(outer.reason), { once: true })
    upload(this.file, {
      ...this.options,
      ...(this.uploadId ? { uploadId: this.uploadId } : {}),
      signal: controller.signal,
      onStart: (start) => {
        this.uploadId = start.uploadId
        this.options.onStart?.(start)
      },
    }).then(
      (result) => {
        if (this.#controller !== controller) return
        this.state = 'completed'
        this.#resolve(result)
      },
      (err: unknown) => {
        if (this.#controller !== controller) return
        if (err instanceof UploadError && err.uploadId) this.uploadId = err.uploadId
        if (isAbortError(err) && this.state !== 'uploading') return // paused or cancelled
        this.state = 'failed'
        this.#reject(err)
      },
    )
    return this.result
  }

  pause(): void {
    if (this.state !== 'uploading') return
    this.state = 'paused'
    this.#controller?.abort(new UploadError('ABORTED', 'paused'))
  }

  resume(): Promise<UploadResult> {
    return this.start()
  }

  /** Stops and aborts the upload on the server; its parts are freed. */
  async cancel(): Promise<void> {
    const wasDone = this.state === 'completed' || this.state === 'cancelled'
    this.state = 'cancelled'
    this.#controller?.abort(new UploadError('ABORTED', 'cancelled'))
    if (wasDone) return
    this.#reject(new UploadError('ABORTED', 'cancelled', this.uploadId ? { uploadId: this.uploadId } : {}))
    if (this.uploadId) {
      await abortUpload(this.uploadId, this.options)
    }
  }
}
