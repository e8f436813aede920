// A shopper's whole journey in a real Chromium (with the demo coupon WELCOME10), and the
// errors a shopper can meet.
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { launch, openPage, assertAccessible, screenshot, call, login, register, ADMIN, unique } from './browser.mjs'

let browser
before(async () => (browser = await launch()))
after(() => browser?.close())

async function openMug(page) {
  await page.getByRole('searchbox', { name: 'Search' }).fill('mug')
  await page.getByRole('button', { name: 'Search' }).click()
  await page.getByRole('link', { name: /mug/i }).first().click()
  await page.getByTestId('availability').waitFor()
}

async function addMugToCart(page) {
  await openMug(page)
  await page.getByRole('button', { name: 'Add to cart' }).click()
  await page.getByText('Added.').waitFor()
}

async function orderAsSomeoneElse(sku, quantity) {
  const email = `${unique('other')}@example.com`
  await call('POST', '/auth/register', { email, name: 'Other Shopper', password: 'correct horse battery' })
  const { access_token } = await login(email, 'correct horse battery')
  const address = { name: 'Other', line1: '2 Main St', city: 'London', postal_code: 'N1 9GU', country: 'GB' }
  const placed = await call('POST', '/orders', { shipping_address: address, lines: [{ sku, quantity }], payment_method: 'pm_card_visa' }, access_token)
  assert.equal(placed.status, 202, JSON.stringify(placed.body))
}

async function fillAddress(page) {
  await page.getByLabel('Full name').fill('Ada Lovelace')
  await page.getByLabel('Street and number').fill('12 St James Square')
  await page.getByLabel('City').fill('London')
  await page.getByLabel('Postal code').fill('SW1Y 4JH')
}

test('a shopper browses, uses a coupon, checks out, watches the order complete and the parcel arrive, and talks to the shop', async () => {
  const page = await openPage(browser)
  await register(page)
  await page.getByRole('heading', { name: 'Products' }).waitFor()
  await screenshot(page, 'storefront')
  await assertAccessible(page, 'catalog')
  await addMugToCart(page)
  await assertAccessible(page, 'product')
  // Someone else buys two: the page's availability follows the stock, with no reload.
  const availability = page.getByTestId('availability')
  const before = Number((await availability.textContent()).match(/\d+/)[0])
  await orderAsSomeoneElse('MUG-CLASSIC', 2)
  await availability.filter({ hasText: `${before - 2} in stock` }).waitFor({ timeout: 30_000 })
  await page.getByRole('link', { name: 'Cart', exact: true }).click()
  const total = await page.locator('.total').textContent()
  await page.getByLabel('Coupon').fill('WELCOME10')
  await page.getByRole('button', { name: 'Apply' }).click()
  await page.getByText(/Discount \(WELCOME10\)/).waitFor()
  assert.notEqual(await page.locator('.total').textContent(), total, 'the coupon lowers the total')

  await page.getByRole('button', { name: 'Place the order' }).click()
  await page.locator('#address-name-error').waitFor()
  assert.match(await page.locator('#address-name-error').textContent(), /\S/, 'an empty name is refused next to its field')
  await assertAccessible(page, 'cart with errors')
  await fillAddress(page)
  await page.getByRole('button', { name: 'Place the order' }).click()
  await page.waitForURL(/\/shop\/orders\//)
  const status = page.getByTestId('order-status')
  await status.filter({ hasText: 'Completed' }).waitFor({ timeout: 180_000 })
  await page.locator('.route svg').waitFor()
  assert.ok(await page.locator('.stops li[data-status="delivered"]').count() >= 1, 'the parcel arrived')
  await screenshot(page, 'order')
  await assertAccessible(page, 'order')

  await page.getByLabel('Ask us something').fill('Could the next one come gift-wrapped?')
  await page.getByRole('button', { name: 'Send' }).click()
  await page.locator('.messages li[data-author="customer"]').waitFor()

  const operator = await openPage(browser)
  await operator.goto('/shop/account')
  await operator.getByLabel('Email').fill(ADMIN.email)
  await operator.getByLabel('Password').fill(ADMIN.password)
  await operator.getByRole('button', { name: 'Sign in', exact: true }).click()
  await operator.waitForURL(/\/console/)
  await operator.getByRole('link', { name: 'Support inbox' }).click()
  const orderId = page.url().split('/').at(-1)
  await operator.locator(`tr[data-order="${orderId}"] a`).click()
  await operator.locator('.messages li[data-author="customer"]').waitFor()
  await operator.getByLabel('Answer').fill('Of course: we will wrap it.')
  await operator.getByRole('button', { name: 'Send' }).click()
  await page.locator('.messages li[data-author="operator"]').filter({ hasText: 'we will wrap it' }).waitFor()

  // Received, the mug can be reviewed; the product shows the rating until an admin hides it.
  await page.goto('/')
  await openMug(page)
  await page.getByLabel('Rating').selectOption('4')
  await page.getByLabel('Your review').fill('Holds a proper cup of tea.')
  await page.getByRole('button', { name: 'Publish the review' }).click()
  await page.getByTestId('review').filter({ hasText: 'Holds a proper cup of tea.' }).waitFor()
  await page.getByTestId('rating').filter({ hasText: 'Rated 4 of 5 by 1 customer' }).waitFor()
  await screenshot(page, 'product')
  await assertAccessible(page, 'product with reviews')
  await operator.getByRole('link', { name: 'Reviews' }).click()
  const row = operator.locator('tr', { hasText: 'Holds a proper cup of tea.' })
  await row.getByPlaceholder('Why').fill('testing moderation')
  await row.getByRole('button', { name: 'Hide' }).click()
  await row.getByText('hidden').waitFor()
  await assertAccessible(operator, 'review moderation')
  await page.reload()
  await page.getByTestId('rating').filter({ hasText: 'Not rated yet' }).waitFor()

  // Chromium logs each refused request ("Failed to load resource … 422"); the form's
  // refusal above is one on purpose. Anything else is an error.
  assert.deepEqual(page.errors.filter((e) => !/status of 422/.test(e)), [], 'no errors in the shopper\'s console')
  assert.deepEqual(operator.errors, [], 'no errors in the operator\'s console')
})

test('a declined card says so and the cart keeps the items and the coupon; a bad sign-in says what is wrong', async () => {
  const page = await openPage(browser, { width: 390, height: 844 })
  await register(page)
  await addMugToCart(page)
  await page.getByRole('link', { name: 'Cart', exact: true }).click()
  await page.getByLabel('Coupon').fill('WELCOME10')
  await page.getByRole('button', { name: 'Apply' }).click()
  await page.getByText(/Discount \(WELCOME10\)/).waitFor()
  await fillAddress(page)
  await page.getByLabel('Card (test cards of the sandbox)').selectOption('pm_card_chargeDeclined')
  await page.getByRole('button', { name: 'Place the order' }).click()
  await page.waitForURL(/\/shop\/orders\//)
  await page.getByRole('alert').filter({ hasText: 'Your card was declined' }).waitFor({ timeout: 60_000 })
  await screenshot(page, 'declined')
  await page.getByRole('link', { name: 'Back to your cart' }).click()
  await page.waitForURL(/\/shop\/cart/)
  await page.getByRole('cell', { name: /mug/i }).waitFor()
  await page.getByText(/Discount \(WELCOME10\)/).waitFor()

  // Not signed in, a product page's availability follows the stock all the same.
  const stranger = await openPage(browser)
  await stranger.goto('/')
  await openMug(stranger)
  const availability = stranger.getByTestId('availability')
  const before = Number((await availability.textContent()).match(/\d+/)[0])
  await orderAsSomeoneElse('MUG-CLASSIC', 1)
  await availability.filter({ hasText: `${before - 1} in stock` }).waitFor({ timeout: 30_000 })
  await stranger.goto('/shop/account')
  await stranger.getByRole('button', { name: 'New here? Open an account' }).click()
  await stranger.getByLabel('Name').fill('Shorty')
  await stranger.getByLabel('Email').fill(`${unique('shorty')}@example.com`)
  await stranger.getByLabel('Password').fill('short')
  await stranger.getByRole('button', { name: 'Open the account' }).click()
  await stranger.locator('#password-error').waitFor()
  assert.equal(await stranger.getByLabel('Password').getAttribute('aria-invalid'), 'true', 'the field says it is wrong')
  await assertAccessible(stranger, 'registration with an error')
  assert.deepEqual(page.errors, [])
  assert.deepEqual(stranger.errors.filter((e) => !/status of 422/.test(e)), [], 'no errors but the refused form')
})
