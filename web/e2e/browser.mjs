// What every browser test shares: Debian's Chromium driven by playwright-core, against the
// `emporium dev` that scripts/browser started (EMPORIUM_E2E_URL), with the console's errors
// collected, axe-core run on pages, and screenshots saved to e2e/out/.
import { chromium } from 'playwright-core'
import { readFileSync, readdirSync, mkdirSync } from 'node:fs'
import { createRequire } from 'node:module'
import assert from 'node:assert/strict'

export const BASE = process.env.EMPORIUM_E2E_URL ?? 'http://127.0.0.1:48080'
export const ADMIN = { email: 'admin@emporium.localhost', password: process.env.EMPORIUM_E2E_ADMIN_PASSWORD }
const OUT = new URL('./out/', import.meta.url).pathname
const AXE = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8')

export async function launch() {
  return chromium.launch({
    executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
      '--disable-component-update', '--no-first-run'],
  })
}

/** A page in a fresh context (its own session), whose console errors are kept in `errors`. */
export async function openPage(browser, viewport = { width: 1280, height: 900 }) {
  const context = await browser.newContext({ baseURL: BASE, viewport })
  const page = await context.newPage()
  page.errors = []
  page.on('console', (message) => message.type() === 'error' && page.errors.push(message.text()))
  page.on('pageerror', (error) => page.errors.push(String(error)))
  return page
}

/** No serious or critical accessibility violation on the page as it is now. */
export async function assertAccessible(page, name) {
  await page.addScriptTag({ content: AXE })
  const result = await page.evaluate(async () => await window.axe.run(document, { resultTypes: ['violations'] }))
  const grave = result.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical')
  assert.deepEqual(grave.map((v) => `${v.id}: ${v.help} (${v.nodes.map((n) => n.target).join(' | ')})`), [], `${name}: accessibility`)
}

export async function screenshot(page, name) {
  mkdirSync(OUT, { recursive: true })
  await page.screenshot({ path: `${OUT}${name}.png`, fullPage: true })
}

/** The API, called directly (setup the journeys need: a coupon, an account). */
export async function call(method, path, body, token) {
  const response = await fetch(BASE + path, {
    method,
    headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: body === undefined ? undefined : JSON.stringify(body),
  })
  const text = await response.text()
  return { status: response.status, body: text ? JSON.parse(text) : null }
}

export async function login(email, password) {
  const { status, body } = await call('POST', '/auth/login', { email, password })
  assert.equal(status, 200, JSON.stringify(body))
  return body
}

/** Signs `page` in through the form. */
export async function signIn(page, email, password) {
  await page.goto('/shop/account')
  await page.getByLabel('Email').fill(email)
  await page.getByLabel('Password').fill(password)
  await page.getByRole('button', { name: 'Sign in', exact: true }).click()
  await page.waitForURL((url) => !url.pathname.startsWith('/shop/account'))
}

/** Opens an account through the form, signed in on `page`; answers its email. */
export async function register(page) {
  const email = `${unique('shopper')}@example.com`
  await page.goto('/shop/account')
  await page.getByRole('button', { name: 'New here? Open an account' }).click()
  await page.getByLabel('Name').fill('Ada Lovelace')
  await page.getByLabel('Email').fill(email)
  await page.getByLabel('Password').fill('correct horse battery')
  await page.getByRole('button', { name: 'Open the account' }).click()
  await page.waitForURL((url) => url.pathname === '/')
  return email
}

export const unique = (prefix) => `${prefix}-${Date.now().toString(36)}${Math.random().toString(36).slice(2, 6)}`

/** Plain text of a quoted-printable body. */
const unquote = (text) =>
  Buffer.from(text.replace(/=\r?\n/g, '').replace(/=([0-9A-F]{2})/g, (_, hex) => String.fromCharCode(parseInt(hex, 16))), 'latin1').toString('utf8')

/** The first link in the newest message to `to` whose subject has `subject`, once it arrived
 * in the folder `emporium dev` writes mail to (EMPORIUM_E2E_MAIL_DIR). */
export async function emailedLink(to, subject) {
  const dir = process.env.EMPORIUM_E2E_MAIL_DIR
  assert.ok(dir, 'EMPORIUM_E2E_MAIL_DIR names the mail folder')
  for (let i = 0; i < 300; i++) {
    const mails = readdirSync(dir)
      .map((name) => readFileSync(`${dir}/${name}`, 'utf8'))
      .filter((mail) => mail.includes(`To: ${to}`) && mail.split('\n').some((l) => l.startsWith('Subject:') && l.includes(subject)))
    const link = mails.map((mail) => unquote(mail).match(/https?:\/\/\S+/)?.[0]).find(Boolean)
    if (link) return new URL(link)
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
  assert.fail(`no "${subject}" mail to ${to}`)
}
