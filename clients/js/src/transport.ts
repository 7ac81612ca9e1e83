// One part PUT to its presigned URL: XMLHttpRequest where it exists (browsers, React Native: byte
// progress while the part goes out), fetch otherwise (Node: progress when the part is stored).

import { UploadError, abortError } from './errors.js'

export type Transport = 'auto' | 'xhr' | 'fetch'

export interface PutRequest {
  url: string
  body: Blob
  headers: Record<string, string>
  signal: AbortSignal
  onProgress: (bytesSent: number) => void
}

export interface PutAnswer {
  status: number
  etag: string | null
  body: string
}

/** Headers the runtime sets from the body or the URL itself; browsers refuse to have them set. */
const RUNTIME_HEADERS = new Set(['content-length', 'host'])

/** The headers a part URL says its PUT must carry, minus those the runtime sets itself. */
export function partHeaders(headers: Record<string, string> | undefined): Record<string, string> {
  const out: Record<string, string> = {}
  for (const [name, value] of Object.entries(headers ?? {})) {
    if (!RUNTIME_HEADERS.has(name.toLowerCase())) out[name] = value
  }
  return out
}

export function choosePut(transport: Transport, fetchFn: typeof fetch | undefined): (req: PutRequest) => Promise<PutAnswer> {
  const hasXhr = typeof (globalThis as { XMLHttpRequest?: unknown }).XMLHttpRequest === 'function'
  const useXhr = transport === 'xhr' || (transport === 'auto' && hasXhr && !fetchFn)
  if (useXhr) return putXhr
  const f = fetchFn ?? globalThis.fetch
  return (req) => putFetch(f.bind(globalThis), req)
}

async function putFetch(f: typeof fetch, req: PutRequest): Promise<PutAnswer> {
  if (req.signal.aborted) throw abortError(req.signal)
  try {
    const response = await f(req.url, {
      method: 'PUT',
      body: req.body,
      headers: { 'content-type': 'application/octet-stream', ...req.headers },
      signal: req.signal,
    })
    const body = await response.text()
    if (response.ok) req.onProgress(req.body.size)
    return { status: response.status, etag: response.headers.get('etag'), body }
  } catch (err) {
    if (req.signal.aborted) throw abortError(req.signal)
    throw err
  }
}

function putXhr(req: PutRequest): Promise<PutAnswer> {
  return new Promise((resolve, reject) => {
    if (req.signal.aborted) return reject(abortError(req.signal))
    const xhr = new XMLHttpRequest()
    const onAbort = () => xhr.abort()
    const done = () => req.signal.removeEventListener('abort', onAbort)
    xhr.open('PUT', req.url)
    xhr.setRequestHeader('content-type', 'application/octet-stream')
    for (const [name, value] of Object.entries(req.headers)) xhr.setRequestHeader(name, value)
    xhr.upload.onprogress = (event) => req.onProgress(event.loaded)
    xhr.onload = () => {
      done()
      // Without the bucket CORS rule's `ExposeHeaders: ETag` this is null; completion then goes
      // without the client's ETags.
      resolve({ status: xhr.status, etag: xhr.getResponseHeader('etag'), body: String(xhr.responseText ?? '') })
    }
    xhr.onerror = () => {
      done()
      reject(new UploadError('NETWORK_ERROR', 'the part PUT got no answer (network error or CORS)'))
    }
    xhr.ontimeout = xhr.onerror
    xhr.onabort = () => {
      done()
      reject(abortError(req.signal))
    }
    req.signal.addEventListener('abort', onAbort, { once: true })
    xhr.send(req.body)
  })
}
