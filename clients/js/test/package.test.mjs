// The package as a registry would ship it. Its sources are copied out of the repository (so a
// `../../` path at pack time fails), `npm pack` builds them (prepack) into a tarball with a README,
// the LICENSE and types for both entry points and no test page; the tarball is installed into a
// fresh ESM project, type-checked there with moduleResolution `bundler` and `node16` (Uppy's
// conventions included: `new Uppy<M, MultipartUploadBody>()`, retryDelays, limit, partSize,
// allowedMetaFields, upload-error's response, the per-part event), and an upload runs through the
// installed package against the local API, metadata included.
import assert from 'node:assert/strict'
import { execFile as execFileCb } from 'node:child_process'
import { cp, lstat, mkdir, mkdtemp, readFile, readdir, rm, symlink, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'

import { MIB, makeFile, objectMetadata, readObject, startApi } from './support/stack.mjs'

const execFile = promisify(execFileCb)
const pkgDir = fileURLToPath(new URL('..', import.meta.url))
const tsc = join(pkgDir, 'node_modules/typescript/bin/tsc')

let work, tarball, project, api, file

/** A fresh ESM project's check.ts: what an app writes against both entry points. */
const CHECK_TS = `
import { upload, UploadError, type UploadOptions, type UploadResult } from '@multipart-upload/client'
import MultipartUpload, { type MultipartUploadBody } from '@multipart-upload/client/uppy'
import Uppy, { type Meta } from '@uppy/core'

type M = Meta & { album?: string }
const uppy = new Uppy<M, MultipartUploadBody>()
uppy.use(MultipartUpload, {
  endpoint: 'https://api.example.com/api/v1/multipart-upload',
  token: async () => 'a-jwt',
  limit: 2,
  retryDelays: [0, 1000, 3000],
  partSize: 8 * 1024 * 1024,
  allowedMetaFields: ['album'],
  shouldUseMultipart: (file) => (file.size ?? 0) > 100 * 1024 * 1024,
})
uppy.on('upload-success', (_file, response) => {
  const key: string | undefined = response.body?.key
  const resumed: boolean | undefined = response.body?.resumed
  void [key, resumed]
})
uppy.on('upload-error', (_file, error, response) => {
  const status: number | undefined = response?.status
  void [error.message, status]
})
uppy.on('multipart-upload:part-uploaded', (_file, part) => {
  const n: number = part.partNumber
  void n
})
const uploadId: string | undefined = uppy.getFiles()[0]?.multipartUpload?.uploadId
void uploadId

export async function run(blob: Blob): Promise<string> {
  const options: UploadOptions = { endpoint: 'https://api.example.com', metadata: { album: 'summer' }, retryDelays: [0, 500] }
  try {
    const result: UploadResult = await upload(blob, options)
    return result.key
  } catch (err) {
    if (err instanceof UploadError) return err.code
    throw err
  }
}
`

const RUN_MJS = `
import { openAsBlob } from 'node:fs'
import { upload } from '@multipart-upload/client'
const [endpoint, path] = process.argv.slice(2)
const result = await upload(await openAsBlob(path), {
  endpoint, userId: 'packed', fileName: 'packed.bin', store: null, metadata: { source: 'tarball' },
})
console.log(JSON.stringify(result))
`

const tsconfig = (module, moduleResolution) => ({
  compilerOptions: {
    target: 'ES2022',
    module,
    moduleResolution,
    lib: ['ESNext', 'DOM', 'DOM.Iterable'],
    types: [],
    strict: true,
    noEmit: true,
    skipLibCheck: false,
  },
  files: ['check.ts'],
})

describe('the packed package', { timeout: 300_000 }, () => {
  before(async () => {
    work = await mkdtemp(join(tmpdir(), 'js-package-'))
    file = await makeFile(6 * MIB, 11)
  })
  after(async () => {
    await api?.stop()
    if (work) await rm(work, { recursive: true, force: true })
    if (file) await rm(file.dir, { recursive: true, force: true })
  })

  test('npm pack, from a copy outside the repository, builds and ships only the package', async () => {
    const copy = join(work, 'client')
    await mkdir(copy)
    for (const entry of ['package.json', 'package-lock.json', 'tsconfig.json', 'README.md', 'LICENSE', 'src']) {
      await cp(join(pkgDir, entry), join(copy, entry), { recursive: true })
    }
    // Its dev dependencies (tsc) as `npm ci` would install them; nothing of the repository around it.
    await symlink(join(pkgDir, 'node_modules'), join(copy, 'node_modules'), 'dir')
    const { stdout } = await execFile('npm', ['pack', '--json', '--pack-destination', work], { cwd: copy })
    const [packed] = JSON.parse(stdout.slice(stdout.indexOf('[')))
    tarball = join(work, packed.filename)
    const files = packed.files.map((f) => f.path).sort()
    for (const needed of ['LICENSE', 'README.md', 'package.json', 'dist/index.js', 'dist/index.d.ts', 'dist/uppy.js', 'dist/uppy.d.ts', 'dist/generated/openapi.d.ts']) {
      assert.ok(files.includes(needed), `${needed} is shipped: ${files.join(' ')}`)
    }
    assert.deepEqual(files.filter((f) => /test|page|\.tgz$/.test(f)), [], 'no test pages or tests')
    assert.ok(packed.size < 150_000, `the tarball is small (${packed.size} B)`)
    const manifest = JSON.parse(await readFile(join(copy, 'package.json'), 'utf8'))
    assert.equal(manifest.license, 'Apache-2.0')
    assert.equal(manifest.private, undefined)
    assert.match(await readFile(join(copy, 'LICENSE'), 'utf8'), /Apache License\s+Version 2\.0/)
  })

  test('installs into a fresh ESM project and type-checks with moduleResolution bundler and node16', async () => {
    assert.ok(tarball, 'packed by the test before')
    project = join(work, 'app')
    await mkdir(project)
    await writeFile(join(project, 'package.json'), JSON.stringify({ name: 'fresh-app', private: true, type: 'module' }))
    const lock = JSON.parse(await readFile(join(pkgDir, 'package-lock.json'), 'utf8'))
    const uppyCore = lock.packages['node_modules/@uppy/core'].version
    await execFile('npm', ['install', '--no-audit', '--no-fund', '--prefer-offline', '--loglevel=error', tarball, `@uppy/core@${uppyCore}`], { cwd: project })
    const installed = join(project, 'node_modules/@multipart-upload/client')
    assert.ok(!(await lstat(installed)).isSymbolicLink(), 'a copy, not a link to a dev folder')
    assert.ok(!(await readdir(installed)).includes('node_modules'), 'no private copy of @uppy/core')
    await writeFile(join(project, 'check.ts'), CHECK_TS)
    for (const [module, resolution] of [['esnext', 'bundler'], ['node16', 'node16']]) {
      const config = join(project, `tsconfig.${resolution}.json`)
      await writeFile(config, JSON.stringify(tsconfig(module, resolution)))
      await execFile(process.execPath, [tsc, '-p', config], { cwd: project }).catch((err) => {
        assert.fail(`tsc with moduleResolution ${resolution}:\n${err.stdout}${err.stderr}`)
      })
    }
  })

  test('an upload through the installed package reaches storage, metadata included', async () => {
    assert.ok(project, 'installed by the test before')
    api = await startApi()
    await writeFile(join(project, 'run.mjs'), RUN_MJS)
    const { stdout } = await execFile(process.execPath, ['run.mjs', api.endpoint, file.path], { cwd: project })
    const result = JSON.parse(stdout)
    assert.equal(result.status, 'COMPLETED')
    assert.equal(result.size, file.bytes.length)
    assert.ok((await readObject(api.bucket, result.key)).equals(file.bytes), 'byte for byte')
    assert.deepEqual(await objectMetadata(api.bucket, result.key), { source: 'tarball' })
  })
})
