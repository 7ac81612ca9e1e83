// Resumable, parallel multipart uploads to the upload API, for browsers, React Native and Node 20+.
// Runtime dependency: `@aws-sdk/crc64-nvme` (the default CRC64NVME checksum); otherwise fetch, Blob,
// AbortController and (for SHA-256 checksums and the content fingerprint) WebCrypto.

export { upload, abortUpload } from './upload.js'
export type { UploadOptions, UploadResult, UploadStart, PartDone, RetryInfo } from './upload.js'
export { Upload } from './controller.js'
export type { UploadState } from './controller.js'
export { ApiClient } from './api.js'
export type * from './api.js'
export { UploadError, isAbortError } from './errors.js'
export type { ClientErrorCode } from './errors.js'
export type { UploadProgress } from './progress.js'
export type { RetryOptions } from './retry.js'
export { memoryStore, defaultStore, asyncStorageStore, fingerprintOf, STORE_PREFIX } from './store.js'
export type { StateStore, SavedUpload } from './store.js'
export type { Sha256 } from './checksum.js'
export type { Transport } from './transport.js'
