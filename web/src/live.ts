// One WebSocket per tab to the API's /ws (docs/REALTIME.md): pages follow orders and topics
// through it, nothing polls. The token travels in the handshake (the `bearer.<token>`
// subprotocol), never in the URL. Each subscription keeps the number of the last entry it
// got; after a lost connection it subscribes again from there, so nothing is missed or
// repeated.
import { session } from './session'

export interface FeedEntry {
  id: number
  order_id: string | null
  seq: number | null
  customer_id: string | null
  customer_seq: number | null
  kind: 'status' | 'tracking' | 'refund' | 'notification' | 'support'
  body: Record<string, any>
  recorded_at: string
}

export type Target =
  | { order_id: string }
  | { topic: 'my_orders' | 'notifications' | 'orders' | 'review_queue' | 'support_inbox' }
  | { sku: string }
/** Gets each entry; `null` when a staff topic may have missed some (read the list again). */
export type Listener = (entry: FeedEntry | null) => void

/** Gets a SKU's stock level, now and whenever it changes. */
export type LevelListener = (available: number) => void

interface Subscription { target: Target; after: number; listeners: Set<Listener>; levels: Set<LevelListener> }

const keyOf = (target: Target) =>
  'order_id' in target ? `order:${target.order_id}` : 'sku' in target ? `sku:${target.sku}` : `topic:${target.topic}`

class Live {
  private socket: WebSocket | null = null
  private token = ''
  private retry = 1000
  private readonly subscriptions = new Map<string, Subscription>()

  /** Follows `target` from after `after`; returns how to stop. */
  follow(target: Target, listener: Listener, after = 0): () => void {
    return this.add(target, after, (subscription) => subscription.listeners, listener)
  }

  /** Follows a SKU's stock level (signed in or not); returns how to stop. */
  watchStock(sku: string, listener: LevelListener): () => void {
    return this.add({ sku }, 0, (subscription) => subscription.levels, listener)
  }

  private add<L>(target: Target, after: number, set: (s: Subscription) => Set<L>, listener: L): () => void {
    const key = keyOf(target)
    let subscription = this.subscriptions.get(key)
    if (!subscription) {
      subscription = { target, after, listeners: new Set(), levels: new Set() }
      this.subscriptions.set(key, subscription)
      this.send({ type: 'subscribe', ...target, after })
    }
    set(subscription).add(listener)
    this.connect()
    return () => {
      set(subscription).delete(listener)
      if (subscription.listeners.size === 0 && subscription.levels.size === 0) {
        this.subscriptions.delete(key)
        this.send({ type: 'unsubscribe', ...target })
      }
    }
  }

  private connect() {
    if (this.socket && this.token === session.token) return
    this.socket?.close(1000)
    this.token = session.token
    // Not signed in, the socket may follow stock only (it opens anonymous, docs/REALTIME.md).
    const allowed = (target: Target) => !!this.token || 'sku' in target
    if (![...this.subscriptions.values()].some(({ target }) => allowed(target))) return
    const url = `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/ws`
    const socket = new WebSocket(url, this.token ? ['emporium', `bearer.${this.token}`] : ['emporium'])
    this.socket = socket
    socket.onopen = () => {
      this.retry = 1000
      for (const { target, after } of this.subscriptions.values()) {
        if (allowed(target)) socket.send(JSON.stringify({ type: 'subscribe', ...target, after }))
      }
    }
    socket.onmessage = (message) => this.receive(JSON.parse(message.data))
    socket.onclose = (close) => {
      if (this.socket !== socket) return
      this.socket = null
      if (close.code === 4401) return
      setTimeout(() => this.subscriptions.size > 0 && this.connect(), this.retry)
      this.retry = Math.min(this.retry * 2, 15000)
    }
  }

  private receive(message: { type: string; entry?: FeedEntry; order_id?: string; topic?: string; sku?: string; available?: number }) {
    const target = (message.order_id ? { order_id: message.order_id } : message.sku ? { sku: message.sku } : { topic: message.topic }) as Target
    const subscription = this.subscriptions.get(keyOf(target))
    if (!subscription) return
    if (message.type === 'event' && message.entry) {
      const entry = message.entry
      const place = 'order_id' in target ? entry.seq : entry.customer_seq
      if (place !== null) subscription.after = place
      subscription.listeners.forEach((listener) => listener(entry))
    } else if (message.type === 'stock' && message.available !== undefined) {
      subscription.levels.forEach((listener) => listener(message.available!))
    } else if (message.type === 'resync') {
      subscription.listeners.forEach((listener) => listener(null))
    }
  }

  private send(message: object) {
    if (this.socket?.readyState === WebSocket.OPEN) this.socket.send(JSON.stringify(message))
  }

  /** Closes the socket (on logout); following again opens a new one. */
  close() {
    this.socket?.close(1000)
    this.socket = null
    this.token = ''
    this.subscriptions.clear()
  }
}

export const live = new Live()
