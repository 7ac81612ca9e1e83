// Headless Chromium (Debian's chromium, driven by playwright-core) on a page served from another
// origin than the API (so CORS is exercised): the package uploads a 23 MiB file, then Uppy's
// Dashboard with the MultipartUpload plugin does, paused and resumed from the Dashboard's buttons.
// Both stored objects are read back and compared byte for byte; after the resume only the parts
// storage lacked are PUT. UPDATE_SCREENSHOT=1 refreshes docs/uppy-dashboard.png.
import assert from 'node:assert/strict'
import { existsSync } from 'node:fs'
import { mkdir, mkdtemp, readFile, rm } from 'node:fs/promises'
import { createServer } from 'node:http'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import { fileURLToPath } from 'node:url'

import { ApiClient } from '../dist/index.js'
import { MIB, freePort, makeFile, motoUrl, multipartEtag, partOf, readObject, repoRoot, startApi } from './support/stack.mjs'

const CHROMIUM = process.env.CHROMIUM ?? '/usr/bin/chromium'
const required = process.env.TEST_BROWSER === '1'
const skip = !existsSync(CHROMIUM) && !required ? `no ${CHROMIUM}` : false
const SIZE = 23 * MIB
const PARTS = 5
const here = (p) => fileURLToPath(new URL(p, import.meta.url))

let api, file, site, browser, profile

async function serveSite() {
  const port = await freePort()
  const files = {
    '/': [here('./browser/index.html'), 'text/html; charset=utf-8'],
    '/page.js': [here('./page-dist/page.js'), 'text/javascript'],
    '/page.css': [here('./page-dist/page.css'), 'text/css'],
    '/file.bin': [file.path, 'application/octet-stream'],
  }
  const server = createServer(async (req, res) => {
    const entry = files[new URL(req.url, 'http://x').pathname]
    if (!entry) return res.writeHead(404).end()
    res.writeHead(200, { 'content-type': entry[1], 'cache-control': 'no-store' }).end(await readFile(entry[0]))
  })
  await new Promise((r) => server.listen(port, '127.0.0.1', r))
  return { origin: `http://127.0.0.1:${port}`, close: () => new Promise((r) => server.close(r)) }
}

describe('in headless Chromium', { skip, timeout: 180_000 }, () => {
  before(async () => {
    const { chromium } = await import('playwright-core')
    api = await startApi()
    file = await makeFile(SIZE, 7)
    site = await serveSite()
    profile = await mkdtemp(join(tmpdir(), 'chromium-profile-'))
    browser = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      headless: true,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
      viewport: { width: 900, height: 640 },
    })
  })
  after(async () => {
    await browser?.close()
    await site?.close()
    await api?.stop()
    if (profile) await rm(profile, { recursive: true, force: true })
    if (file) await rm(file.dir, { recursive: true, force: true })
  })

  async function openPage() {
    const page = await browser.newPage()
    const errors = []
    page.on('pageerror', (e) => errors.push(e))
    await page.goto(site.origin + '/')
    await page.waitForFunction(() => window.pageReady === true)
    return { page, errors }
  }


  /** Uppy with the Dashboard and the plugin on the page; its events are kept in window.events. */
  async function setupUppy(page, userId, pluginOptions) {
    await page.evaluate(({ endpoint, userId, pluginOptions }) => {
      const { Uppy, Dashboard, MultipartUpload } = window
      window.events = []
      const uppy = new Uppy({ autoProceed: false })
        .use(Dashboard, { inline: true, target: '#uppy', width: 840, height: 460, proudlyDisplayPoweredByUppy: false })
        .use(MultipartUpload, { endpoint, userId, ...pluginOptions })
      for (const name of ['upload-start', 'upload-pause', 'pause-all', 'resume-all', 'retry-all', 'cancel-all', 'upload-success', 'upload-error', 'complete']) {
        uppy.on(name, (...args) => window.events.push({ name, args: JSON.parse(JSON.stringify(args.map((a) => (a instanceof Error ? { name: a.name, message: a.message, code: a.code } : a && a.id ? { id: a.id, response: a.response } : a)))) }))
      }
      uppy.on('upload-progress', () => (window.progressEvents = (window.progressEvents ?? 0) + 1))
      window.uppy = uppy
    }, { endpoint: api.endpoint, userId, pluginOptions })
  }

  /** Part PUTs are counted (`puts`), and those of part `from` and up held (`held`) while `hold`. */
  async function holdParts(page, from) {
    const net = { puts: [], held: [], hold: true }
    await page.route(`${motoUrl()}/**`, async (route) => {
      const request = route.request()
      if (request.method() === 'PUT') {
        net.puts.push(partOf(request.url()))
        if (net.hold && partOf(request.url()) >= from) {
          net.held.push(route)
          return
        }
      }
      await route.continue().catch(() => {})
    })
    return net
  }

  const storedParts = async (userId, uploadId) =>
    (await new ApiClient({ endpoint: api.endpoint, userId }).listParts(uploadId)).parts.map((p) => p.PartNumber)

  test('the package uploads a 23 MiB file cross-origin, with byte progress', async () => {
    const { page, errors } = await openPage()
    const out = await page.evaluate(async (endpoint) => {
      const blob = await (await fetch('/file.bin')).blob()
      const file = new File([blob], 'browser.mp4', { type: 'video/mp4', lastModified: 1 })
      const progress = []
      const result = await window.client.upload(file, { endpoint, userId: 'dave', onProgress: (p) => progress.push(p) })
      const leftInStorage = Object.keys(localStorage).filter((k) => k.startsWith(window.client.STORE_PREFIX))
      return { result, events: progress.length, last: progress.at(-1), leftInStorage }
    }, api.endpoint)
    assert.deepEqual(errors, [])
    assert.equal(out.result.status, 'COMPLETED')
    assert.equal(out.result.size, SIZE)
    assert.ok(out.events > PARTS, `XMLHttpRequest reports bytes while parts go out (${out.events} events)`)
    assert.equal(out.last.bytesUploaded, SIZE)
    assert.deepEqual(out.leftInStorage, [], 'localStorage forgets a completed upload')
    const stored = await readObject(api.bucket, out.result.key)
    assert.ok(stored.equals(file.bytes), 'byte for byte')
    assert.equal(out.result.etag, multipartEtag(file.bytes, 5 * MIB))
    await page.close()
  })

  test("Uppy's Dashboard with the plugin: pause and resume send only the missing parts", async () => {
    const { page, errors } = await openPage()
    await setupUppy(page, 'erin', { concurrency: 2 })

    // Parts 3 and up are held at the network until the upload is paused, so the pause comes
    // after parts 1 and 2 are stored and while two more are on their way.
    const net = await holdParts(page, 3)
    const { puts, held } = net

    await page.locator('.uppy-Dashboard-input').first().setInputFiles(file.path)
    await page.locator('.uppy-StatusBar-actionBtn--upload').click()
    const stored = async () => {
      const id = await page.evaluate(() => window.uppy.getFiles()[0]?.multipartUpload?.uploadId)
      return id ? storedParts('erin', id) : []
    }
    for (let i = 0; held.length < 2 || (await stored()).length < 2; i++) {
      assert.ok(i < 300, `parts 1 and 2 stored, 3 and 4 held (held ${held.length})`)
      await new Promise((r) => setTimeout(r, 100))
    }

    await page.getByRole('button', { name: 'Pause', exact: true }).click()
    await page.waitForFunction(() => window.uppy.getFiles()[0].isPaused === true)
    net.hold = false
    for (const route of held) await route.abort().catch(() => {})
    const before = await stored()
    assert.deepEqual(before, [1, 2])
    const sentBeforeResume = puts.length

    await page.getByRole('button', { name: 'Resume', exact: true }).click()
    await page.waitForFunction(() => window.events.some((e) => e.name === 'complete'), null, { timeout: 60_000 })
    assert.deepEqual(errors, [])
    const afterResume = puts.slice(sentBeforeResume).sort()
    assert.deepEqual(afterResume, [3, 4, 5], 'after the resume only the missing parts are PUT')

    const events = await page.evaluate(() => window.events)
    const success = events.find((e) => e.name === 'upload-success')
    assert.ok(success, JSON.stringify(events))
    assert.ok(!events.some((e) => e.name === 'upload-error'), JSON.stringify(events))
    const result = success.args[1].body
    assert.equal(result.status, 'COMPLETED')
    assert.ok((await page.evaluate(() => window.progressEvents)) > PARTS)
    const object = await readObject(api.bucket, result.key)
    assert.ok(object.equals(file.bytes), 'byte for byte')

    await page.locator('.uppy-StatusBar.is-complete').waitFor()
    await page.waitForTimeout(500)
    const shot = process.env.UPDATE_SCREENSHOT === '1'
      ? join(repoRoot, 'docs/uppy-dashboard.png')
      : join(here('..'), 'test-results/uppy-dashboard.png')
    await mkdir(join(shot, '..'), { recursive: true })
    await page.screenshot({ path: shot })
    await page.close()
  })

  test('Golden Retriever: a reload mid-upload resumes the upload; only the missing parts are sent', async () => {
    const { page, errors } = await openPage()
    // `store: null`: the upload id survives the reload only on the Uppy file, as Golden Retriever
    // saved it (file.multipartUpload), so resuming proves the plugin reads it back.
    const setup = () =>
      page.evaluate((endpoint) => {
        const { Uppy, Dashboard, GoldenRetriever, MultipartUpload } = window
        window.events = []
        const uppy = new Uppy({ id: 'restore', autoProceed: false })
          .use(Dashboard, { inline: true, target: '#uppy', width: 840, height: 460, proudlyDisplayPoweredByUppy: false })
          .use(GoldenRetriever, { indexedDB: { maxFileSize: 64 * 1024 * 1024 } }) // its default keeps files up to 10 MiB
          .use(MultipartUpload, { endpoint, userId: 'gina', concurrency: 2, store: null })
        uppy.on('upload-success', (f, response) => window.events.push({ name: 'upload-success', body: response.body }))
        uppy.on('upload-error', (f, error, response) => window.events.push({ name: 'upload-error', message: error.message, response }))
        uppy.on('multipart-upload:part-uploaded', (f, part) => window.events.push({ name: 'part', part }))
        window.uppy = uppy
      }, api.endpoint)
    const net = await holdParts(page, 3)
    const { puts, held } = net
    await setup()
    await page.locator('.uppy-Dashboard-input').first().setInputFiles(file.path)
    await page.locator('.uppy-StatusBar-actionBtn--upload').click()
    const uploadId = async () => page.evaluate(() => window.uppy.getFiles()[0]?.multipartUpload?.uploadId)
    for (let i = 0; held.length < 2 || !(await uploadId()) || (await storedParts('gina', await uploadId())).length < 2; i++) {
      assert.ok(i < 300, `parts 1 and 2 stored, 3 and 4 held (held ${held.length})`)
      await new Promise((r) => setTimeout(r, 100))
    }
    const id = await uploadId()
    const partEvents = (await page.evaluate(() => window.events)).filter((e) => e.name === 'part').map((e) => e.part.partNumber).sort()
    assert.deepEqual(partEvents, [1, 2], 'one per-part event for each stored part')
    // Golden Retriever saves the state (throttled, 500 ms) and the file's blob in IndexedDB.
    await page.waitForTimeout(1500)

    net.hold = false
    await page.reload()
    for (const route of held) await route.abort().catch(() => {})
    await page.waitForFunction(() => window.pageReady === true)
    const sentBeforeReload = puts.length
    await setup()
    await page.waitForFunction(() => {
      const f = window.uppy.getFiles()[0]
      return f && f.isRestored && f.data && f.multipartUpload
    }, null, { timeout: 30_000 }).catch(async (err) => {
      const files = await page.evaluate(() => window.uppy.getFiles().map((f) => ({ restored: f.isRestored, ghost: f.isGhost, data: !!f.data, upload: f.multipartUpload })))
      assert.fail(`Golden Retriever restored ${JSON.stringify(files)}: ${err.message}`)
    })
    assert.equal(await uploadId(), id, 'the file came back with its upload id')
    await page.evaluate(() => window.uppy.emit('restore-confirmed'))
    await page.waitForFunction(() => window.events.some((e) => e.name === 'upload-success' || e.name === 'upload-error'), null, { timeout: 60_000 })
    const events = await page.evaluate(() => window.events)
    const success = events.find((e) => e.name === 'upload-success')
    assert.ok(success, JSON.stringify(events))
    assert.equal(success.body.uploadId, id, 'the same upload went on')
    assert.deepEqual(puts.slice(sentBeforeReload).sort(), [3, 4, 5], 'after the reload only the missing parts are PUT')
    assert.ok((await readObject(api.bucket, success.body.key)).equals(file.bytes), 'byte for byte')
    assert.deepEqual(errors, [])
    await page.close()
  })

  test("Uppy: a part that keeps failing ends in upload-error; the Dashboard's Retry resumes; Cancel aborts", async () => {
    const { page, errors } = await openPage()
    await setupUppy(page, 'frank', { concurrency: 2, maxRetries: 1, retryDelayMs: 50 })
    const puts = []
    let failing = true
    await page.route(`${motoUrl()}/**`, async (route) => {
      const request = route.request()
      if (request.method() === 'PUT') {
        const n = partOf(request.url())
        puts.push(n)
        if (failing && n === 4) {
          const headers = { 'access-control-allow-origin': '*', 'content-type': 'application/xml' }
          return route.fulfill({ status: 503, headers, body: '<Error><Code>SlowDown</Code></Error>' })
        }
      }
      await route.continue().catch(() => {})
    })
    await page.locator('.uppy-Dashboard-input').first().setInputFiles(file.path)
    await page.locator('.uppy-StatusBar-actionBtn--upload').click()
    await page.waitForFunction(() => window.events.some((e) => e.name === 'upload-error'), null, { timeout: 30_000 })
    const uploadId = await page.evaluate(() => window.uppy.getFiles()[0].multipartUpload.uploadId)
    const error = (await page.evaluate(() => window.events)).find((e) => e.name === 'upload-error')
    assert.match(error.args[1].message, /part 4 failed after 2 tries/)
    assert.equal(error.args[2]?.status, 503, 'upload-error carries the response that ended the upload')
    assert.equal(puts.filter((n) => n === 4).length, 2, 'part 4: one try and one retry')
    // The parts in flight when part 4 gave up were cut off; what storage holds is kept.
    await new Promise((r) => setTimeout(r, 300))
    const before = await storedParts('frank', uploadId)
    assert.ok(!before.includes(4))

    failing = false
    const sentBeforeRetry = puts.length
    await page.locator('.uppy-StatusBar-actionBtn--retry').click()
    await page.waitForFunction(() => window.events.some((e) => e.name === 'upload-success'), null, { timeout: 60_000 })
    const retried = puts.slice(sentBeforeRetry).sort()
    assert.deepEqual(retried, [1, 2, 3, 4, 5].filter((n) => !before.includes(n)), 'the retry sends only the missing parts')
    const success = (await page.evaluate(() => window.events)).find((e) => e.name === 'upload-success')
    assert.equal(success.args[1].body.uploadId, uploadId, 'the retry resumed the same upload')
    assert.ok((await readObject(api.bucket, success.args[1].body.key)).equals(file.bytes))

    // Cancel: a new file, cancelled from the Dashboard once a part is stored, is aborted on the server.
    await page.evaluate(() => window.uppy.clear())
    const second = await makeFile(12 * MIB, 9)
    try {
      let slow = true
      await page.unroute(`${motoUrl()}/**`)
      await page.route(`${motoUrl()}/**`, async (route) => {
        if (slow && route.request().method() === 'PUT' && partOf(route.request().url()) >= 2) return // held until cancelled
        await route.continue().catch(() => {})
      })
      await page.locator('.uppy-Dashboard-input').first().setInputFiles(second.path)
      await page.locator('.uppy-StatusBar-actionBtn--upload').click()
      let id
      for (let i = 0; !id || (await storedParts('frank', id)).length < 1; i++) {
        assert.ok(i < 300, 'part 1 stored')
        await new Promise((r) => setTimeout(r, 100))
        id = await page.evaluate(() => window.uppy.getFiles()[0]?.multipartUpload?.uploadId)
      }
      await page.locator('.uppy-StatusBar-actionCircleBtn[data-cy="cancel"]').click()
      slow = false
      await page.waitForFunction(() => window.events.some((e) => e.name === 'cancel-all'))
      let status
      for (let i = 0; status !== 'ABORTED'; i++) {
        assert.ok(i < 100, `aborted on the server (status ${status})`)
        await new Promise((r) => setTimeout(r, 100))
        status = (await new ApiClient({ endpoint: api.endpoint, userId: 'frank' }).status(id)).status
      }
      assert.equal(await page.evaluate(() => window.uppy.getFiles().length), 0)
    } finally {
      await rm(second.dir, { recursive: true, force: true })
    }
    assert.deepEqual(errors, [])
    await page.close()
  })
})
