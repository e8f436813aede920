// Who is signed in: the access token and the account, kept in localStorage so a reload
// keeps the session (and forgotten when the API says the token is no longer good).
import { reactive } from 'vue'

export type Role = 'customer' | 'operator' | 'admin'
export interface Account { id: string; email: string; name: string; role: Role }

const KEY = 'emporium.session'
const stored = JSON.parse(localStorage.getItem(KEY) ?? 'null') as { token: string; account: Account } | null

export const session = reactive({
  token: stored?.token ?? '',
  account: stored?.account ?? (null as Account | null),

  get staff(): boolean {
    return this.account?.role === 'operator' || this.account?.role === 'admin'
  },
  get admin(): boolean {
    return this.account?.role === 'admin'
  },

  remember(token: string, account: Account) {
    this.token = token
    this.account = account
    localStorage.setItem(KEY, JSON.stringify({ token, account }))
  },

  forget() {
    this.token = ''
    this.account = null
    localStorage.removeItem(KEY)
  },
})
