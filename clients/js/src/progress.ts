// Bytes, rate and ETA. The rate is measured over the last few seconds of this run only, so parts
// stored before a resume do not inflate it.

export interface UploadProgress {
  uploadId: string
  /** Bytes stored or on their way (a part being sent counts with what went out so far). */
  bytesUploaded: number
  bytesTotal: number
  partsDone: number
  totalParts: number
  /** Bytes per second over the last seconds; 0 until measurable. */
  bytesPerSecond: number
  /** Seconds left at that rate; null until measurable. */
  etaSeconds: number | null
}

const WINDOW_MS = 5000

export class ProgressMeter {
  readonly #samples: { t: number; bytes: number }[] = []
  readonly #now: () => number

  constructor(now: () => number = () => Date.now()) {
    this.#now = now
  }

  /** Records `bytes` uploaded so far and returns rate and ETA for `total`. */
  sample(bytes: number, total: number): { bytesPerSecond: number; etaSeconds: number | null } {
    const t = this.#now()
    this.#samples.push({ t, bytes })
    while (this.#samples.length > 2 && t - this.#samples[0]!.t > WINDOW_MS) this.#samples.shift()
    const first = this.#samples[0]!
    const elapsed = (t - first.t) / 1000
    if (elapsed < 0.2) return { bytesPerSecond: 0, etaSeconds: null }
    const bytesPerSecond = Math.max(0, (bytes - first.bytes) / elapsed)
    const etaSeconds = bytesPerSecond > 0 ? Math.max(0, (total - bytes) / bytesPerSecond) : null
    return { bytesPerSecond, etaSeconds }
  }
}
