// Uploads a file in a child process that the test kills with SIGKILL part-way; prints a line per stored part.
//   node child-upload.mjs ENDPOINT FILE STORE_PATH
import { openAsBlob } from 'node:fs'
import { upload } from '../../dist/index.js'
import { fileStore, instrumentedFetch } from './stack.mjs'

const [endpoint, file, storePath] = process.argv.slice(2)
const blob = await openAsBlob(file, { type: 'video/mp4' })
// Slow parts, one at a time, so the kill lands in the middle of the upload.
const { fetch } = instrumentedFetch({ delayMs: 400 })
await upload(blob, {
  fileName: 'killed.mp4',
  endpoint,
  userId: 'carol',
  fetch,
  concurrency: 1,
  store: fileStore(storePath),
  fingerprint: 'killed-upload',
  onStart: (s) => console.log(`START ${s.uploadId} ${s.totalParts}`),
  onPartComplete: (p) => console.log(`PART ${p.partNumber}`),
})
console.log('DONE')
