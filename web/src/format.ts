// How money, times and statuses read on the pages.
import type { Money } from './api'

/** Minor-unit digits of a currency (0 for JPY, 2 for the others Emporium sells in). */
const digitsOf = (currency: string) => (currency === 'JPY' ? 0 : 2)

export function money(value: Money | null | undefined): string {
  if (!value) return '—'
  const digits = digitsOf(value.currency)
  return new Intl.NumberFormat('en', { style: 'currency', currency: value.currency, minimumFractionDigits: digits })
    .format(value.amount_minor / 10 ** digits)
}

/** An amount typed by a person (`34.50`, `34,50`) in minor units of `currency`. */
export function toMinor(text: string, currency: string): number {
  return Math.round(Number(text.replace(',', '.')) * 10 ** digitsOf(currency))
}

export function when(iso: string | null | undefined): string {
  if (!iso) return ''
  return new Date(iso).toLocaleString('en-GB', { dateStyle: 'medium', timeStyle: 'short' })
}

/** `out_for_delivery` → `Out for delivery`. */
export function label(status: string | null | undefined): string {
  if (!status) return ''
  const words = status.replaceAll('_', ' ')
  return words.charAt(0).toUpperCase() + words.slice(1)
}

export const FINAL_STATUSES = ['completed', 'rejected', 'payment_failed', 'cancelled', 'failed', 'refunded']
