// Bundles the browser test page (the package, Uppy core and Dashboard) with esbuild into test/page-dist/ (not shipped).
import { build } from 'esbuild'
import { fileURLToPath } from 'node:url'

const root = fileURLToPath(new URL('../..', import.meta.url))
await build({
  absWorkingDir: root,
  entryPoints: ['test/browser/page.js'],
  bundle: true,
  format: 'esm',
  target: 'es2020',
  outdir: 'test/page-dist',
  logLevel: 'warning',
})
