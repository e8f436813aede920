// Builds the storefront and the console (one app, two areas) into dist/, which the API
// serves (api/src/web.rs). `npm run dev` serves it with hot reload and sends the API's
// paths to a running `emporium dev` on :8080.
import { defineConfig } from 'vite'
import vue from '@vitejs/plugin-vue'

const api = 'http://127.0.0.1:8080'
const apiPaths = [
  '/auth', '/customers', '/products', '/categories', '/coupons', '/inventory', '/cart',
  '/orders', '/shipping', '/notifications', '/support', '/report', '/analytics', '/audit',
  '/openapi.json', '/healthz', '/readyz',
]

export default defineConfig({
  plugins: [vue()],
  build: { outDir: 'dist', assetsDir: 'assets', sourcemap: true },
  server: {
    proxy: Object.fromEntries([
      ...apiPaths.map((path) => [path, { target: api, bypass: pageRequest }]),
      ['/ws', { target: api, ws: true }],
    ]),
  },
})

// A browser navigating to an app page gets the app, not the API.
function pageRequest(req: { headers: Record<string, string | string[] | undefined>; url?: string }) {
  const accept = String(req.headers.accept ?? '')
  return accept.includes('text/html') ? '/index.html' : undefined
}
