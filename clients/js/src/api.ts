// The API's eight calls, typed from the OpenAPI contract (src/generated/openapi.ts is generated from
// the repository's openapi.yaml by `npm run generate`; tsc --strict then checks this file against it).

import type { components, operations } from './generated/openapi.js'
import { UploadError, abortError, isRetryableAnswer } from './errors.js'
import { backoffDelay, sleep, type RetryOptions } from './retry.js'

type JsonBody<O extends keyof operations> = operations[O] extends {
  requestBody: { content: { 'application/json': infer B } }
}
  ? B
  : never

/** `initialize`'s body, plus `partSize`: the client's preferred part size, honoured by servers that support it. */
export type InitializeRequest = JsonBody<'initialize'> & { partSize?: number }
export type InitializeResponse = operations['initialize']['responses'][201]['content']['application/json']
export type BatchUrlsRequest = JsonBody<'batchPresignedUrls'>
export type BatchUrlsResponse = operations['batchPresignedUrls']['responses'][200]['content']['application/json']
export type PartUrlRequest = JsonBody<'presignedUrl'>
export type PartUrlResponse = operations['presignedUrl']['responses'][200]['content']['application/json']
export type CompleteRequest = JsonBody<'complete'>
export type CompleteResponse = operations['complete']['responses'][200]['content']['application/json']
export type AbortRequest = JsonBody<'abort'>
export type AbortResponse = operations['abort']['responses'][200]['content']['application/json']
export type ListPartsResponse = operations['listParts']['responses'][200]['content']['application/json']
export type StatusResponse = operations['status']['responses'][200]['content']['application/json']
export type ListUploadsQuery = NonNullable<operations['listUploads']['parameters']['query']>
export type ListUploadsResponse = operations['listUploads']['responses'][200]['content']['application/json']
export type UploadSummary = components['schemas']['UploadSummary']
export type PartUrl = components['schemas']['PartUrl']
export type ApiErrorBody = components['schemas']['ApiErrorBody']
export type StoredPart = ListPartsResponse['parts'][number]
export type CompletedPart = NonNullable<CompleteRequest['parts']>[number]

type Headers = Record<string, string>

export interface ApiOptions extends RetryOptions {
  /** The API's base URL, e.g. `https://api.example.com/api/v1/multipart-upload`. */
  endpoint: string
  /**
   * A JWT sent as `Authorization: Bearer`, or a function returning a fresh one before each call;
   * a function is asked once more when the API answers 401 (an expired token), and the call repeated.
   */
  token?: string | (() => string | Promise<string>)
  /** `make dev`'s local identity (the `x-user-id` header); ignored by the deployed API. */
  userId?: string
  /** Extra headers for API calls, or a function returning them before each call. */
  headers?: Headers | (() => Headers | Promise<Headers>)
  /** The fetch to use (default `globalThis.fetch`); tests wrap it to inject faults. */
  fetch?: typeof fetch
}

/** A thin client of the API: JSON in, JSON out, `UploadError` with the API's code on refusals. */
export class ApiClient {
  readonly endpoint: string
  readonly #opts: ApiOptions
  readonly #fetch: typeof fetch

  constructor(opts: ApiOptions) {
    if (!opts.endpoint) throw new TypeError('endpoint is required')
    this.endpoint = opts.endpoint.replace(/\/+$/, '')
    this.#opts = opts
    const f = opts.fetch ?? globalThis.fetch
    if (typeof f !== 'function') throw new TypeError('no fetch in this runtime: pass options.fetch')
    this.#fetch = f.bind(globalThis)
  }

  initialize(body: InitializeRequest, signal?: AbortSignal): Promise<InitializeResponse> {
    return this.#call('POST', '/initialize', body, signal)
  }

  batchPresignedUrls(body: BatchUrlsRequest, signal?: AbortSignal): Promise<BatchUrlsResponse> {
    return this.#call('POST', '/batch-presigned-urls', body, signal)
  }

  presignedUrl(body: PartUrlRequest, signal?: AbortSignal): Promise<PartUrlResponse> {
    return this.#call('POST', '/presigned-url', body, signal)
  }

  complete(body: CompleteRequest, signal?: AbortSignal): Promise<CompleteResponse> {
    return this.#call('POST', '/complete', body, signal)
  }

  abort(body: AbortRequest, signal?: AbortSignal): Promise<AbortResponse> {
    return this.#call('POST', '/abort', body, signal)
  }

  listParts(uploadId: string, signal?: AbortSignal): Promise<ListPartsResponse> {
    return this.#call('GET', `/parts/${encodeURIComponent(uploadId)}`, undefined, signal)
  }

  status(uploadId: string, signal?: AbortSignal): Promise<StatusResponse> {
    return this.#call('GET', `/status/${encodeURIComponent(uploadId)}`, undefined, signal)
  }

  /** One page of the caller's uploads, newest first; pass `nextCursor` back as `cursor`, with the same `status`. */
  listUploads(query: ListUploadsQuery = {}, signal?: AbortSignal): Promise<ListUploadsResponse> {
    const params = new URLSearchParams()
    if (query.status !== undefined) params.set('status', String(query.status))
    if (query.limit !== undefined) params.set('limit', String(query.limit))
    if (query.cursor !== undefined) params.set('cursor', query.cursor)
    const qs = params.toString()
    return this.#call('GET', qs ? `/uploads?${qs}` : '/uploads', undefined, signal)
  }

  /** Every upload of the caller, newest first, page after page (`for await (const u of client.uploads())`). */
  async *uploads(query: Omit<ListUploadsQuery, 'cursor'> = {}, signal?: AbortSignal): AsyncGenerator<UploadSummary> {
    let cursor: string | undefined
    do {
      const page: ListUploadsResponse = await this.listUploads(cursor === undefined ? query : { ...query, cursor }, signal)
      yield* page.uploads
      cursor = page.nextCursor ?? undefined
    } while (cursor !== undefined)
  }

  async #headers(): Promise<Headers> {
    const { token, userId, headers } = this.#opts
    const out: Headers = { accept: 'application/json' }
    if (userId) out['x-user-id'] = userId
    if (token) out.authorization = `Bearer ${typeof token === 'function' ? await token() : token}`
    Object.assign(out, typeof headers === 'function' ? await headers() : headers)
    return out
  }

  /**
   * One call, retried alone on no answer, 408, 429 (after `Retry-After`) and 5xx, never on an answer
   * that will not change (`QUOTA_EXCEEDED`, validation errors); once more on 401 with a token function.
   */
  async #call<T>(method: 'GET' | 'POST', path: string, body: unknown, signal?: AbortSignal): Promise<T> {
    const maxRetries = this.#opts.maxRetries ?? 5
    let refreshed = false
    for (let attempt = 0; ; attempt++) {
      if (signal?.aborted) throw abortError(signal)
      let failure: UploadError
      let retryAfterMs: number | undefined
      try {
        const headers = await this.#headers()
        if (body !== undefined) headers['content-type'] = 'application/json'
        const init: RequestInit = { method, headers }
        if (body !== undefined) init.body = JSON.stringify(body)
        if (signal) init.signal = signal
        const response = await this.#fetch(this.endpoint + path, init)
        const text = await response.text()
        let json: unknown
        try {
          json = text ? JSON.parse(text) : undefined
        } catch {
          json = undefined
        }
        if (response.ok && json !== undefined) return json as T
        failure = errorFromAnswer(response.status, json, text, `${method} ${path}`)
        if (response.status === 401 && typeof this.#opts.token === 'function' && !refreshed) {
          refreshed = true // the token function is asked again by #headers
          attempt--
          continue
        }
        if (!isRetryableAnswer(failure)) throw failure
        const after = Number(response.headers.get('retry-after'))
        if (Number.isFinite(after) && after > 0) retryAfterMs = after * 1000
      } catch (err) {
        if (signal?.aborted) throw abortError(signal)
        if (err instanceof UploadError) {
          if (!isRetryableAnswer(err)) throw err
          failure = err
        } else {
          failure = new UploadError('NETWORK_ERROR', `${method} ${path}: ${describe(err)}`, { cause: err })
        }
      }
      if (attempt >= maxRetries) throw failure
      await sleep(retryAfterMs ?? backoffDelay(attempt + 1, this.#opts), signal)
    }
  }
}

/** The API's `{error: {code, message}}` as an UploadError; anything else as INVALID_RESPONSE. */
export function errorFromAnswer(status: number, json: unknown, text: string, what: string): UploadError {
  const error = (json as Partial<ApiErrorBody> | undefined)?.error
  if (error && typeof error.code === 'string') {
    return new UploadError(error.code, `${what}: ${error.message ?? error.code}`, { status })
  }
  return new UploadError('INVALID_RESPONSE', `${what}: HTTP ${status} ${text.slice(0, 200)}`, { status })
}

export function describe(err: unknown): string {
  if (err instanceof Error) {
    const cause = (err as { cause?: unknown }).cause
    return cause instanceof Error ? `${err.message} (${cause.message})` : err.message
  }
  return String(err)
}
