// Puts the API reference page and its viewer (Scalar, from npm) into dist/docs, so /docs
// renders with no network: the API serves both (api/src/web.rs).
import { copyFileSync, mkdirSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

const web = join(dirname(fileURLToPath(import.meta.url)), '..')
const out = join(web, 'dist', 'docs')
mkdirSync(out, { recursive: true })
copyFileSync(join(web, 'docs', 'index.html'), join(out, 'index.html'))
copyFileSync(
  join(web, 'node_modules', '@scalar', 'api-reference', 'dist', 'browser', 'standalone.js'),
  join(out, 'standalone.js'),
)
console.log('docs: dist/docs/index.html and the viewer')
