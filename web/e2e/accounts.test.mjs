// Accounts in a real Chromium: a forgotten password set again from the emailed link, the
// profile with a saved address that the checkout then offers, and the forms' errors.
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { launch, openPage, assertAccessible, screenshot, register, emailedLink } from './browser.mjs'

let browser
before(async () => (browser = await launch()))
after(() => browser?.close())

test('a shopper who forgot the password sets a new one from the email, then saves an address and checks out to it', async () => {
  const page = await openPage(browser)
  const email = await register(page)
  await page.getByRole('button', { name: 'Sign out' }).click()

  await page.goto('/shop/account')
  await page.getByRole('link', { name: 'Forgot your password?' }).click()
  // The sign-in form has an Email field too: fill only once the lazily loaded page replaced it,
  // or the text lands in the old form and the new one's empty required field blocks the submit.
  await page.getByRole('heading', { name: 'Forgot your password?' }).waitFor()
  await page.getByLabel('Email').fill(email)
  await page.getByRole('button', { name: 'Email me a link' }).click()
  await page.getByRole('status').filter({ hasText: 'a link to set a new password is on its way' }).waitFor()
  await assertAccessible(page, 'forgot password')
  const link = await emailedLink(email, 'Set a new password')
  await page.goto(link.pathname + link.search)
  await page.getByLabel('New password').fill('short')
  await page.getByRole('button', { name: 'Set the password' }).click()
  await page.locator('#password-error').waitFor()
  await assertAccessible(page, 'reset password with an error')
  await page.getByLabel('New password').fill('a much better password')
  await page.getByRole('button', { name: 'Set the password' }).click()
  await page.getByRole('status').filter({ hasText: 'Your new password is set' }).waitFor()

  await page.getByRole('link', { name: 'Profile', exact: true }).click()
  await page.getByLabel('Phone').fill('12')
  await page.getByRole('button', { name: 'Save the profile' }).click()
  await page.locator('#profile-phone-error').waitFor()
  await page.getByLabel('Phone').fill('+442071838750')
  await page.getByRole('button', { name: 'Add an address' }).click()
  await page.getByLabel('Label (such as Home)').fill('Home')
  await page.getByLabel('Street and number').fill('12 St James Square')
  await page.getByLabel('City').fill('London')
  await page.getByLabel('Postal code').fill('SW1Y 4JH')
  await page.getByRole('button', { name: 'Save the profile' }).click()
  await page.getByRole('status').filter({ hasText: 'Saved.' }).waitFor()
  await screenshot(page, 'profile')
  await assertAccessible(page, 'profile')

  await page.goto('/')
  await page.getByRole('searchbox', { name: 'Search' }).fill('sticker')
  await page.getByRole('button', { name: 'Search' }).click()
  await page.getByRole('link', { name: /sticker/i }).first().click()
  await page.getByRole('button', { name: 'Add to cart' }).click()
  await page.getByText('Added.').waitFor()
  await page.getByRole('link', { name: 'Cart', exact: true }).click()
  assert.match(await page.getByLabel('Deliver to').locator('option:checked').textContent(), /Home/)
  await page.getByRole('button', { name: 'Place the order' }).click()
  await page.waitForURL(/\/shop\/orders\//)
  await page.getByTestId('order-status').waitFor()
  assert.deepEqual(page.errors.filter((e) => !/status of 422/.test(e)), [], 'no errors but the refused forms')
})
