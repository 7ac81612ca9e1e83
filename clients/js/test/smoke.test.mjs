// scripts/smoke.sh, the check a deployer runs against their stack, run here against the local API:
// a whole upload with metadata, its parts PUT to storage, completed, and its ETag that of the bytes.
import assert from 'node:assert/strict'
import { execFile as execFileCb } from 'node:child_process'
import { join } from 'node:path'
import { after, before, test } from 'node:test'
import { promisify } from 'node:util'

import { objectMetadata, readObject, repoRoot, startApi } from './support/stack.mjs'

const execFile = promisify(execFileCb)
let api
before(async () => {
  api = await startApi()
})
after(async () => {
  await api?.stop()
})

test('scripts/smoke.sh runs a whole upload against the local API', async () => {
  const { stdout } = await execFile(join(repoRoot, 'scripts/smoke.sh'), [api.origin + '/', '--user', 'smoke'])
  assert.match(stdout, /smoke: passed: 5243904 bytes stored as (\S+)/)
  const key = stdout.match(/stored as (\S+)/)[1]
  assert.equal((await readObject(api.bucket, key)).length, 5 * 1024 * 1024 + 1024)
  assert.deepEqual(await objectMetadata(api.bucket, key), { 'smoke-test': 'scripts-smoke-sh' })
})

test('scripts/smoke.sh fails loudly when the API refuses the caller', async () => {
  const err = await execFile(join(repoRoot, 'scripts/smoke.sh'), [api.origin, 'not-a-jwt']).then(
    () => assert.fail('a refused caller must fail the smoke test'),
    (e) => e,
  )
  assert.equal(err.code, 1)
  assert.match(err.stderr, /FAILED: POST \/initialize: HTTP 401/)
})
