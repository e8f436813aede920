// An order's feed as the order pages read it (the shop's and the console's): every entry once,
// live from the socket while the page is open, with the timeline and the parcel's stops drawn
// from it.
import { computed, onMounted, onUnmounted, ref } from 'vue'
import { live, type FeedEntry } from './live'
import type { Stop } from './components/ParcelRoute.vue'

export function useOrderFeed(orderId: string, onEntry: (entry: FeedEntry) => void = () => {}) {
  const entries = ref<FeedEntry[]>([])
  const ofKind = (kind: FeedEntry['kind']) => entries.value.filter((entry) => entry.kind === kind)
  const steps = computed(() =>
    ofKind('status').map((e) => ({ status: e.body.status as string, reason: e.body.reason as string | null, at: e.recorded_at })),
  )
  const stops = computed(() => ofKind('tracking').map((e) => e.body as Stop))

  let stop = () => {}
  onMounted(() => {
    stop = live.follow({ order_id: orderId }, (entry) => {
      if (!entry || entries.value.some((known) => known.id === entry.id)) return
      entries.value = [...entries.value, entry]
      onEntry(entry)
    })
  })
  onUnmounted(() => stop())
  return { entries, ofKind, steps, stops }
}
