// Checksums of parts, base64 as the API and S3 want them: CRC64NVME (the default: `@aws-sdk/crc64-nvme`,
// the AWS SDKs' own implementation, in every runtime) combined into the whole file's value with CRC
// combination math, and SHA-256 with WebCrypto (browsers, Node 20, and React Native with a WebCrypto
// polyfill) or a digest function the app passes. Also the file's content fingerprint, the same the
// CLI sends, so that a retried `initialize` answers the same upload.

import { Crc64Nvme } from '@aws-sdk/crc64-nvme'
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

/** The CRC64NVME of the blob's bytes, as an unsigned 64-bit integer. */
export async function crc64nvme(blob: Blob): Promise<bigint> {
  const crc = new Crc64Nvme()
  crc.update(new Uint8Array(await readBlob(blob)))
  return fromBigEndian(await crc.digest())
}

/** A CRC64NVME as `x-amz-checksum-crc64nvme` carries it: base64 of its 8 big-endian bytes. */
export function crc64nvmeBase64(crc: bigint): string {
  const bytes = new Uint8Array(8)
  for (let i = 7; i >= 0; i--) {
    bytes[i] = Number(crc & 0xffn)
    crc >>= 8n
  }
  return base64(bytes)
}

function fromBigEndian(bytes: Uint8Array): bigint {
  let n = 0n
  for (const b of bytes) n = (n << 8n) | BigInt(b)
  return n
}

// CRC combination (zlib's crc32_combine, for 64 bits): crc(A‖B) = shift(crc(A), |B|) ^ crc(B), where
// shift is a linear map over GF(2), a 64×64 bit matrix (one bigint per column) built by squaring.
// CRC-64/NVME has init = xorout = all ones, so the conditioning cancels as it does for CRC-32.
const POLY = 0x9a6c9329ac4bc9b5n // reflected

function times(matrix: bigint[], vector: bigint): bigint {
  let sum = 0n
  for (let i = 0; vector; i++, vector >>= 1n) if (vector & 1n) sum ^= matrix[i]!
  return sum
}

function square(matrix: bigint[]): bigint[] {
  return matrix.map((column) => times(matrix, column))
}

/** The map that appends `length` zero bytes to a CRC's register: build once per part size. */
export function crc64nvmeShift(length: number): (crc: bigint) => bigint {
  // One zero bit: the register shifts right, the polynomial folded in when bit 0 was set.
  let power: bigint[] = [POLY]
  for (let i = 1; i < 64; i++) power.push(1n << BigInt(i - 1))
  power = square(square(square(power))) // one zero byte
  let result: bigint[] | null = null
  for (let n = length; n > 0; n = Math.floor(n / 2)) {
    if (n % 2) result = result ? result.map((column) => times(power, column)) : power
    if (n > 1) power = square(power)
  }
  const map = result
  return (crc) => (map ? times(map, crc) : crc)
}

/** The whole file's CRC64NVME from its parts' values in part order: `chunkSize` bytes each but the last. */
export function combineCrc64nvme(parts: bigint[], chunkSize: number, lastSize: number): bigint {
  const shiftChunk = crc64nvmeShift(chunkSize)
  const shiftLast = lastSize === chunkSize ? shiftChunk : crc64nvmeShift(lastSize)
  let crc = parts[0]!
  for (let i = 1; i < parts.length; i++) crc = (i === parts.length - 1 ? shiftLast : shiftChunk)(crc) ^ parts[i]!
  return crc
}

/** How the upload is verified, as `initialize` names it; `false` for none. */
export type ChecksumChoice = 'CRC64NVME' | 'SHA256' | false

/**
 * The file's content fingerprint, as the CLI computes it: hex SHA-256 of
 * `upload-fingerprint-v1|SIZE|WORD|`, the first MiB and the last MiB, where WORD is `CRC64NVME`,
 * `true` (SHA256) or `false` (no checksum). `undefined` where no SHA-256 is available.
 */
export async function contentFingerprint(file: Blob, choice: ChecksumChoice, digest?: Sha256): Promise<string | undefined> {
  const subtle = (globalThis as { crypto?: { subtle?: SubtleCrypto } }).crypto?.subtle
  if (!digest && !subtle) return undefined
  const edge = Math.min(1 << 20, file.size)
  const word = choice === 'CRC64NVME' ? 'CRC64NVME' : choice === 'SHA256' ? 'true' : 'false'
  const head = new TextEncoder().encode(`upload-fingerprint-v1|${file.size}|${word}|`)
  const first = new Uint8Array(await readBlob(file.slice(0, edge)))
  const last = new Uint8Array(await readBlob(file.slice(file.size - edge)))
  const data = new Uint8Array(head.length + first.length + last.length)
  data.set(head)
  data.set(first, head.length)
  data.set(last, head.length + first.length)
  const hash = digest ? await digest(data.buffer) : await subtle!.digest('SHA-256', data)
  return Array.from(hash instanceof Uint8Array ? hash : new Uint8Array(hash), (b) => b.toString(16).padStart(2, '0')).join('')
}
