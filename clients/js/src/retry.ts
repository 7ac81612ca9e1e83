// Exponential backoff with jitter, and an abortable sleep.

import { abortError } from './errors.js'

export interface RetryOptions {
  /** Further tries after the first one failed (default 5). */
  maxRetries?: number
  /** The first delay in ms (default 500); doubled each try. */
  retryDelayMs?: number
  /** The longest delay in ms (default 30,000). */
  maxRetryDelayMs?: number
  /**
   * Uppy's convention: the delay in ms before each retry, in order (the last one repeats). Replaces
   * the backoff; the Uppy plugin also makes its length the number of retries.
   */
  retryDelays?: number[]
}

/** The delay before try `attempt` (1 = the first retry): base·2^(attempt-1), capped, the upper half random. */
export function backoffDelay(attempt: number, opts: RetryOptions, random: () => number = Math.random): number {
  const fixed = opts.retryDelays
  if (fixed && fixed.length > 0) return fixed[Math.min(Math.max(0, attempt - 1), fixed.length - 1)] ?? 0
  const base = opts.retryDelayMs ?? 500
  const cap = opts.maxRetryDelayMs ?? 30_000
  const full = Math.min(cap, base * 2 ** Math.max(0, attempt - 1))
  return full / 2 + random() * (full / 2)
}

export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(abortError(signal))
    const onAbort = () => {
      clearTimeout(timer)
      reject(abortError(signal))
    }
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort)
      resolve()
    }, ms)
    signal?.addEventListener('abort', onAbort, { once: true })
  })
}
