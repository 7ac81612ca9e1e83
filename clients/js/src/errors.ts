// Errors the client throws. Every one carries a stable `code`: the API's `error.code` when the API
// refused (e.g. `MISSING_PARTS`, `UPLOAD_EXPIRED`), otherwise one of the client's own codes below.

import type { components } from './generated/openapi.js'

/** The API's error codes, as the contract (openapi.yaml) lists them. */
export type ErrorCode = components['schemas']['ErrorCode']

/** Codes the client itself uses, beside the API's. */
export type ClientErrorCode =
  /** No answer (offline, DNS, connection reset) after every retry. */
  | 'NETWORK_ERROR'
  /** Storage refused a part PUT with a status that is not worth retrying, or retries ran out. */
  | 'PART_UPLOAD_FAILED'
  /** The API answered something that is not the contract's JSON. */
  | 'INVALID_RESPONSE'
  /** The upload was stopped through its AbortSignal (paused or cancelled). */
  | 'ABORTED'
  /** A checksum was asked for, but this runtime has no WebCrypto and no `sha256` option was given. */
  | 'CHECKSUM_UNAVAILABLE'
  /** An explicitly named upload is for another file size. */
  | 'FILE_MISMATCH'

export class UploadError extends Error {
  /**
   * The API's `error.code`, or a {@link ClientErrorCode}; a code this build does not know (a newer
   * server's) is kept as it came: branch on `status` then.
   */
  readonly code: ErrorCode | ClientErrorCode | (string & {})
  /** The HTTP status, when an answer came. */
  readonly status: number | undefined
  /** The part concerned, for part PUTs. */
  readonly partNumber: number | undefined
  /** The upload concerned, once known: resume with it. */
  uploadId: string | undefined

  constructor(
    code: ErrorCode | ClientErrorCode | (string & {}),
    message: string,
    init: { status?: number; partNumber?: number; uploadId?: string; cause?: unknown } = {},
  ) {
    super(message, init.cause === undefined ? undefined : { cause: init.cause })
    // AbortError is the name fetch and DOM code use for an aborted operation.
    this.name = code === 'ABORTED' ? 'AbortError' : 'UploadError'
    this.code = code
    this.status = init.status
    this.partNumber = init.partNumber
    this.uploadId = init.uploadId
  }
}

/** True for the error an aborted (paused or cancelled) upload rejects with. */
export function isAbortError(err: unknown): boolean {
  return (
    (err instanceof UploadError && err.code === 'ABORTED') ||
    (typeof err === 'object' && err !== null && (err as { name?: unknown }).name === 'AbortError')
  )
}

export function abortError(signal: AbortSignal | undefined): UploadError {
  const reason: unknown = signal?.reason
  const message =
    reason instanceof Error ? reason.message : typeof reason === 'string' ? reason : 'upload aborted'
  return new UploadError('ABORTED', message, { cause: reason })
}

/** Retryable: no answer, 408, 429 and 5xx. */
export function isRetryableStatus(status: number): boolean {
  return status === 408 || status === 429 || status >= 500
}

/** An API answer worth another try: a retryable status, except a quota that waiting will not free. */
export function isRetryableAnswer(err: UploadError): boolean {
  return err.status !== undefined && isRetryableStatus(err.status) && err.code !== 'QUOTA_EXCEEDED'
}
