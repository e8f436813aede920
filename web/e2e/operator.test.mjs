// An operator's journey in a real Chromium: review an order live, watch it go on, refund
// part of it; and every console page passes axe.
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { launch, openPage, assertAccessible, screenshot, call, login, ADMIN, unique, signIn } from './browser.mjs'

let browser
before(async () => (browser = await launch()))
after(() => browser?.close())

/** A customer's order above the review threshold (scripts/browser sets it to 50.00). */
async function bigOrder() {
  const email = `${unique('big')}@example.com`
  await call('POST', '/auth/register', { email, name: 'Big Spender', password: 'correct horse battery' })
  const { access_token } = await login(email, 'correct horse battery')
  const placed = await call('POST', '/orders', {
    shipping_address: { name: 'Big Spender', line1: '1 Main St', city: 'London', postal_code: 'N1 9GU', country: 'GB' },
    lines: [{ sku: 'MUG-CLASSIC', quantity: 6 }],
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
