// SHA-256 of a part, base64 as the API and S3 want it, with WebCrypto (browsers, Node 20, and
// React Native with a WebCrypto polyfill) or a digest function the app passes.

import { UploadError } from './errors.js'

export type Sha256 = (data: ArrayBuffer) => Promise<ArrayBuffer | Uint8Array>

export async function sha256Base64(blob: Blob, digest?: Sha256): Promise<string> {
  const data = await readBlob(blob)
  const subtle = (globalThis as { crypto?: { subtle?: SubtleCrypto } }).crypto?.subtle
  let hash: ArrayBuffer | Uint8Array
  if (digest) hash = await digest(data)
  else if (subtle) hash = await subtle.digest('SHA-256', data)
  else
    throw new UploadError(
      'CHECKSUM_UNAVAILABLE',
      'checksums need crypto.subtle (WebCrypto) or the sha256 option in this runtime',
    )
  return base64(hash instanceof Uint8Array ? hash : new Uint8Array(hash))
}

/** The blob's bytes; `FileReader` where `Blob.arrayBuffer` is missing (older React Native). */
export function readBlob(blob: Blob): Promise<ArrayBuffer> {
  if (typeof blob.arrayBuffer === 'function') return blob.arrayBuffer()
  return new Promise((resolve, reject) => {
    const reader = new FileReader()
    reader.onload = () => resolve(reader.result as ArrayBuffer)
    reader.onerror = () => reject(reader.error)
    reader.readAsArrayBuffer(blob)
  })
}

const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/'

export function base64(bytes: Uint8Array): string {
  let out = ''
  for (let i = 0; i < bytes.length; i += 3) {
    const a = bytes[i]!
    const b = bytes[i + 1]
    const c = bytes[i + 2]
    const n = (a << 16) | ((b ?? 0) << 8) | (c ?? 0)
    out += ALPHABET[(n >> 18) & 63]! + ALPHABET[(n >> 12) & 63]!
    out += b === undefined ? '=' : ALPHABET[(n >> 6) & 63]!
    out += c === undefined ? '=' : ALPHABET[n & 63]!
  }
  return out
}
