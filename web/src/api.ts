// The REST API, as the app calls it: the session's token on every request, and every
// refusal as a Problem (RFC 9457) whose field errors the forms show next to their fields.
import { session } from './session'

export interface FieldError { field: string; pointer: string; message: string }

export class Problem extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    readonly detail: string,
    readonly errors: FieldError[] = [],
  ) {
    super(detail)
  }

  /** What is wrong with `field` (its name as the API spells it, such as `shipping_address.postal_code`). */
  about(field: string): string | undefined {
    return this.errors.find((error) => error.field === field)?.message
  }
}

export interface Money { amount_minor: number; currency: string }

export async function api<T>(method: string, path: string, body?: unknown): Promise<T> {
  const headers: Record<string, string> = { accept: 'application/json' }
  if (session.token) headers.authorization = `Bearer ${session.token}`
  if (body !== undefined) headers['content-type'] = 'application/json'
  let response: Response
  try {
    response = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) })
  } catch {
    throw new Problem(0, 'network_error', 'The shop cannot be reached. Check your connection and try again.')
  }
  const text = await response.text()
  const data = text ? JSON.parse(text) : null
  if (!response.ok) {
    if (response.status === 401 && session.token) session.forget()
    throw new Problem(response.status, data?.code ?? 'error', data?.detail ?? response.statusText, data?.errors ?? [])
  }
  return data as T
}

export const get = <T>(path: string) => api<T>('GET', path)
export const post = <T>(path: string, body?: unknown) => api<T>('POST', path, body ?? {})
export const put = <T>(path: string, body?: unknown) => api<T>('PUT', path, body)
export const patch = <T>(path: string, body: unknown) => api<T>('PATCH', path, body)
export const del = <T>(path: string) => api<T>('DELETE', path)

/** Query string from the defined, non-empty values. */
export function query(values: Record<string, string | number | undefined | null>): string {
  const params = new URLSearchParams()
  for (const [key, value] of Object.entries(values)) {
    if (value !== undefined && value !== null && value !== '') params.set(key, String(value))
  }
  const text = params.toString()
  return text ? `?${text}` : ''
}
