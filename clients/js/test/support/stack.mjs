// Test helpers: the local API binary on a free port against the moto stack (scripts/stack.sh
// exports TEST_MOTO_URL), test files, reading objects back, and a fetch wrapper that counts
// requests and injects faults.
import { spawn } from 'node:child_process'
import { createHash, randomUUID } from 'node:crypto'
import { openAsBlob } from 'node:fs'
import { mkdtemp, readFile, writeFile } from 'node:fs/promises'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'

export const MIB = 1024 * 1024
export const repoRoot = fileURLToPath(new URL('../../../../', import.meta.url))
export const apiBin = process.env.LOCAL_API_BIN ?? join(repoRoot, 'target/debug/local-api')

export function motoUrl() {
  const url = process.env.TEST_MOTO_URL
  if (!url) throw new Error('TEST_MOTO_URL is not set: run through scripts/test-js.sh (scripts/stack.sh starts moto)')
  return url
}

export function freePort() {
  return new Promise((resolve, reject) => {
    const server = createServer()
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address()
      server.close(() => resolve(port))
    })
  })
}

/** The local API on its own bucket and table; `stop()` kills it. */
export async function startApi(env = {}) {
  const port = await freePort()
  const name = `js-${randomUUID().replaceAll('-', '').slice(0, 20)}`
  const moto = motoUrl()
  const child = spawn(apiBin, [], {
    env: {
      ...process.env,
      PORT: String(port),
      UPLOADS_BUCKET: name,
      UPLOADS_TABLE: name,
      S3_ENDPOINT_URL: moto,
      DYNAMODB_ENDPOINT_URL: moto,
      S3_FORCE_PATH_STYLE: 'true',
      PREFERRED_PART_SIZE: String(5 * MIB),
      RUST_LOG: process.env.RUST_LOG ?? 'warn',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let log = ''
  child.stderr.on('data', (d) => (log += d))
  await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`local API did not start in 30 s:\n${log}`)), 30_000)
    child.stdout.on('data', (d) => {
      log += d
      if (log.includes('local API on')) {
        clearTimeout(timer)
        resolve()
      }
    })
    child.once('exit', (code) => {
      clearTimeout(timer)
      reject(new Error(`local API exited with ${code}:\n${log}`))
    })
  })
  const origin = `http://127.0.0.1:${port}`
  return {
    origin,
    endpoint: `${origin}/api/v1/multipart-upload`,
    bucket: name,
    log: () => log,
    stop: () =>
      new Promise((resolve) => {
        if (child.exitCode !== null) return resolve()
        child.once('exit', () => resolve())
        child.kill('SIGTERM')
      }),
  }
}

/** A file of `size` deterministic pseudo-random bytes; returns its path, bytes and a Blob of it. */
export async function makeFile(size, seed = 1) {
  const bytes = Buffer.alloc(size)
  let x = seed >>> 0 || 1
  for (let i = 0; i < size; i += 4) {
    x ^= x << 13
    x ^= x >>> 17
    x ^= x << 5
    bytes.writeUInt32LE(x >>> 0, Math.min(i, size - 4))
  }
  const dir = await mkdtemp(join(tmpdir(), 'js-client-'))
  const path = join(dir, `video-${seed}.mp4`)
  await writeFile(path, bytes)
  const blob = await openAsBlob(path, { type: 'video/mp4' })
  return { path, bytes, blob, dir }
}

export const sha256 = (bytes) => createHash('sha256').update(bytes).digest('hex')

/** S3's multipart ETag for `bytes` cut in `chunk`-sized parts: md5(concat(md5(part)))-N. */
export function multipartEtag(bytes, chunk) {
  const digests = []
  for (let i = 0; i < bytes.length; i += chunk) digests.push(createHash('md5').update(bytes.subarray(i, i + chunk)).digest())
  return `"${createHash('md5').update(Buffer.concat(digests)).digest('hex')}-${digests.length}"`
}

/** The stored object, read straight from moto (which does not check signatures). */
export async function readObject(bucket, key) {
  const path = key.split('/').map(encodeURIComponent).join('/')
  const response = await fetch(`${motoUrl()}/${bucket}/${path}`)
  if (!response.ok) throw new Error(`GET object ${key}: ${response.status} ${await response.text()}`)
  return Buffer.from(await response.arrayBuffer())
}

export function partOf(url) {
  const n = new URL(url).searchParams.get('partNumber')
  return n ? Number(n) : undefined
}

/**
 * A fetch that counts API calls and part PUTs and can fail PUTs:
 * faults.fail[n] = k: part n's first k PUTs answer 500; faults.drop[n] = k: no answer (TypeError);
 * faults.expire[n] = k: answered 403 "Request has expired", as S3 answers an expired URL.
 */
export function instrumentedFetch(faults = {}) {
  const calls = []
  const puts = []
  const seen = new Map()
  const wrapped = async (input, init = {}) => {
    const url = typeof input === 'string' ? input : input.url
    const method = (init.method ?? 'GET').toUpperCase()
    if (method !== 'PUT') {
      calls.push({ method, path: new URL(url).pathname, body: init.body ? JSON.parse(init.body) : undefined })
      return fetch(input, init)
    }
    const n = partOf(url)
    const count = (seen.get(n) ?? 0) + 1
    seen.set(n, count)
    const entry = { part: n, headers: { ...(init.headers ?? {}) }, outcome: 'sent' }
    puts.push(entry)
    if ((faults.fail?.[n] ?? 0) >= count) {
      entry.outcome = 'failed'
      return new Response('<Error><Code>InternalError</Code><Message>injected</Message></Error>', { status: 500 })
    }
    if ((faults.drop?.[n] ?? 0) >= count) {
      entry.outcome = 'dropped'
      throw new TypeError('fetch failed (injected)')
    }
    if ((faults.expire?.[n] ?? 0) >= count) {
      entry.outcome = 'expired'
      return new Response('<Error><Code>AccessDenied</Code><Message>Request has expired</Message></Error>', { status: 403 })
    }
    if (faults.delayMs) await new Promise((r) => setTimeout(r, faults.delayMs))
    const response = await fetch(input, init)
    entry.outcome = String(response.status)
    return response
  }
  return { fetch: wrapped, calls, puts }
}

/** A StateStore in a JSON file, as an app's persistent storage: survives a killed process. */
export function fileStore(path) {
  const read = async () => {
    try {
      return JSON.parse(await readFile(path, 'utf8'))
    } catch {
      return {}
    }
  }
  return {
    async getItem(key) {
      return (await read())[key] ?? null
    },
    async setItem(key, value) {
      const all = await read()
      all[key] = value
      await writeFile(path, JSON.stringify(all))
    },
    async removeItem(key) {
      const all = await read()
      delete all[key]
      await writeFile(path, JSON.stringify(all))
    },
  }
}

/** The stored object's user metadata (`x-amz-meta-*` headers, prefix removed), read from moto. */
export async function objectMetadata(bucket, key) {
  const path = key.split('/').map(encodeURIComponent).join('/')
  const response = await fetch(`${motoUrl()}/${bucket}/${path}`, { method: 'HEAD' })
  if (!response.ok) throw new Error(`HEAD object ${key}: ${response.status}`)
  const out = {}
  for (const [name, value] of response.headers) if (name.startsWith('x-amz-meta-')) out[name.slice(11)] = value
  return out
}
