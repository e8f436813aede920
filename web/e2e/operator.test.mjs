// An operator's journey in a real Chromium: review an order live, watch it go on, refund
// part of it; and every console page passes axe.
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { createHmac } from 'node:crypto'
import { createServer } from 'node:http'
import { launch, openPage, assertAccessible, screenshot, call, login, ADMIN, unique, signIn } from './browser.mjs'

let browser
before(async () => (browser = await launch()))
after(() => browser?.close())

/** A customer's order above the review threshold (scripts/browser sets it to 50.00). */
const bigOrder = () => orderOf(6)

/** A new customer's order of `quantity` mugs; answers its id. */
async function orderOf(quantity) {
  const email = `${unique('big')}@example.com`
  await call('POST', '/auth/register', { email, name: 'Big Spender', password: 'correct horse battery' })
  const { access_token } = await login(email, 'correct horse battery')
  const placed = await call('POST', '/orders', {
    shipping_address: { name: 'Big Spender', line1: '1 Main St', city: 'London', postal_code: 'N1 9GU', country: 'GB' },
    lines: [{ sku: 'MUG-CLASSIC', quantity }],
    payment_method: 'pm_card_visa',
  }, access_token)
  assert.equal(placed.status, 202, JSON.stringify(placed.body))
  return placed.body.order_id
}

test('an operator approves an order waiting for review, watches it complete and refunds part of it', async () => {
  const page = await openPage(browser)
  await signIn(page, ADMIN.email, ADMIN.password)
  await page.getByRole('heading', { name: 'Waiting for review' }).waitFor()
  const id = await bigOrder()
  const waiting = page.locator(`li[data-order="${id}"]`)
  await waiting.waitFor({ timeout: 60_000 })
  await screenshot(page, 'console')
  await assertAccessible(page, 'console orders')
  await waiting.getByRole('button', { name: 'Approve' }).click()
  await waiting.waitFor({ state: 'detached', timeout: 30_000 })
  // The list below follows every order's status live: the approved order goes on to the end.
  const row = page.getByRole('row').filter({ hasText: id.slice(-12) })
  await row.getByText('Completed').waitFor({ timeout: 180_000 })

  await page.goto(`/console/orders/${id}`)
  await page.getByTestId('order-status').filter({ hasText: 'Completed' }).waitFor({ timeout: 180_000 })
  await page.getByLabel(/^Amount/).fill('5')
  await page.getByLabel('Reason').fill('one mug arrived chipped')
  await page.getByRole('button', { name: 'Refund' }).click()
  await page.getByText(/Refunding/).waitFor()
  await page.getByText(/refunded €5\.00/i).waitFor({ timeout: 60_000 })
  await screenshot(page, 'console-order')
  await assertAccessible(page, 'console order')

  for (const [path, name] of [['/console/inbox', 'inbox'], ['/console/reports', 'reports']]) {
    await page.goto(path)
    await page.getByRole('heading', { level: 1 }).waitFor()
    await page.waitForLoadState('networkidle')
    await assertAccessible(page, name)
  }
  await page.goto('/docs')
  await page.locator('text=Emporium').first().waitFor({ timeout: 30_000 })
  assert.deepEqual(page.errors, [], 'no errors in the console')
})

test('an admin puts a new product on sale, adjusts its stock, and finds both in the audit log', async () => {
  const page = await openPage(browser)
  await signIn(page, ADMIN.email, ADMIN.password)
  await page.getByRole('link', { name: 'Catalog' }).click()
  await page.getByRole('heading', { name: 'A new product' }).waitFor()
  const sku = unique('LAMP').toUpperCase()
  await page.getByLabel('SKU (capitals, digits, dashes)').fill('lower case')
  await page.getByLabel('Name', { exact: true }).last().fill('Desk lamp')
  await page.getByLabel('Price (EUR)').fill('34.50')
  await page.getByRole('button', { name: 'Create' }).click()
  await page.locator('#new-sku-error').waitFor()
  await page.getByLabel('SKU (capitals, digits, dashes)').fill(sku)
  await page.getByRole('button', { name: 'Create' }).click()
  await page.getByText('Desk lamp is on sale.').waitFor()
  const row = page.locator(`tr[data-sku="${sku}"]`)
  await row.getByLabel('By').fill('7')
  await row.getByLabel('Why').fill('first delivery')
  await row.getByRole('button', { name: 'Adjust' }).click()
  await row.locator('.available').filter({ hasText: '7' }).waitFor({ timeout: 30_000 })
  await screenshot(page, 'console-catalog')
  await assertAccessible(page, 'catalog and stock')

  // Its specifications, edited in the console, show on its page in the shop.
  await row.getByRole('button', { name: 'Edit' }).click()
  await page.getByRole('button', { name: 'Add a specification' }).click()
  await page.getByLabel('Key').fill('Wattage')
  await page.getByLabel('Kind').selectOption('number')
  await page.getByLabel('Value').fill('40')
  await page.getByLabel('Unit').fill('W')
  await page.getByRole('button', { name: 'Save' }).click()
  await page.locator('#spec-0-error').waitFor()
  await assertAccessible(page, 'product editor with an error')
  await page.getByLabel('Key').fill('wattage')
  await page.getByRole('button', { name: 'Save' }).click()
  await page.getByRole('heading', { name: `Edit ${sku}` }).waitFor({ state: 'detached' })
  const { body: listed } = await call('GET', `/products?spec=wattage:40`)
  assert.deepEqual(listed.items.map((p) => p.sku), [sku], 'found by its specification')
  await page.goto(`/shop/products/${listed.items[0].id}`)
  await page.getByRole('row', { name: 'wattage 40 W' }).waitFor()
  await page.goBack()

  await page.getByRole('link', { name: 'Audit' }).click()
  await page.getByLabel('Action').fill('stock.*')
  await page.getByLabel('Action').press('Enter')
  await page.getByRole('cell', { name: `stock:${sku}` }).waitFor()
  await assertAccessible(page, 'audit log')
  assert.deepEqual(page.errors.filter((e) => !/status of 422/.test(e)), [], 'no errors but the refused SKU')
})

/** A receiver of webhooks on this machine that answers `answers` in turn, then 200. */
async function receiver(answers) {
  const received = []
  const server = createServer((request, response) => {
    const chunks = []
    request.on('data', (chunk) => chunks.push(chunk))
    request.on('end', () => {
      received.push({ headers: request.headers, body: Buffer.concat(chunks) })
      response.statusCode = answers.shift() ?? 200
      response.end()
    })
  })
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve))
  return { url: `http://127.0.0.1:${server.address().port}/hooks`, received, close: () => server.close() }
}

/** The Standard Webhooks check, written here from the specification: HMAC-SHA256 over
 * `id.timestamp.body`, keyed with the base64 after `whsec_`. */
function verify(secret, { headers, body }) {
  const key = Buffer.from(secret.replace(/^whsec_/, ''), 'base64')
  const signed = Buffer.concat([Buffer.from(`${headers['webhook-id']}.${headers['webhook-timestamp']}.`), body])
  const expected = `v1,${createHmac('sha256', key).update(signed).digest('base64')}`
  assert.ok(headers['webhook-signature'].split(' ').includes(expected), 'the signature verifies')
  return JSON.parse(body)
}

async function until(check, what, timeout = 60_000) {
  const deadline = Date.now() + timeout
  while (!(await check())) {
    assert.ok(Date.now() < deadline, `waited too long for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 250))
  }
}

test('an admin registers a webhook endpoint, watches a delivery retried and accepted, and sends it again', async () => {
  const endpoint = await receiver([500])
  const page = await openPage(browser)
  await signIn(page, ADMIN.email, ADMIN.password)
  await page.getByRole('link', { name: 'Webhooks' }).click()
  await page.getByRole('heading', { name: 'A new endpoint' }).waitFor()
  await page.getByLabel('URL').fill(endpoint.url)
  await page.getByRole('button', { name: 'Register' }).click()
  await page.locator('#endpoint-types-error').waitFor()
  await page.getByLabel('order.created', { exact: true }).check()
  await page.getByRole('button', { name: 'Register' }).click()
  const secret = (await page.locator('[data-secret]').textContent()).trim()
  assert.match(secret, /^whsec_/)
  await assertAccessible(page, 'webhooks')

  const id = await orderOf(1)
  await until(() => endpoint.received.length >= 2, 'a failed attempt, then an accepted one')
  const [failed, accepted] = endpoint.received.map((request) => verify(secret, request))
  assert.deepEqual(failed, accepted, 'the retry carries the same event')
  assert.equal(accepted.type, 'order.created')
  assert.equal(accepted.data.order_id, id)

  const row = page.getByRole('row').filter({ hasText: endpoint.url })
  await row.getByRole('button', { name: 'Deliveries' }).click()
  const delivery = page.locator('tr[data-delivery]').filter({ hasText: accepted.id })
  await until(async () => {
    await page.getByRole('button', { name: 'Refresh' }).click()
    return (await delivery.getByText('Delivered').count()) > 0
  }, 'the delivery to show as delivered')
  await delivery.getByText('#1 500').waitFor()
  await delivery.getByText('#2 200').waitFor()
  await screenshot(page, 'console-webhooks')
  await assertAccessible(page, 'webhook deliveries')
  await delivery.getByRole('button', { name: 'Send again' }).click()
  await until(() => endpoint.received.length >= 3, 'the delivery sent again')
  assert.equal(verify(secret, endpoint.received[2]).id, accepted.id)
  assert.equal(endpoint.received[2].headers['webhook-id'], accepted.id)
  page.once('dialog', (dialog) => dialog.accept())
  await row.getByRole('button', { name: 'Delete' }).click()
  await row.waitFor({ state: 'detached' })
  endpoint.close()
  assert.deepEqual(page.errors.filter((e) => !/status of 422/.test(e)), [], 'no errors but the refused form')
})
