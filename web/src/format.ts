// How money, times and statuses read on the pages.
import type { Money } from './api'

export function money(value: Money | null | undefined): string {
  if (!value) return '—'
  const digits = value.currency === 'JPY' ? 0 : 2
  return new Intl.NumberFormat('en', { style: 'currency', currency: value.currency, minimumFractionDigits: digits })
    .format(value.amount_minor / 10 ** digits)
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
