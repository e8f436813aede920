// A form's submission: what the API refused (shown next to the fields it names) and whether
// it is under way (the button waits). One place for the pattern every form repeats.
import { ref } from 'vue'
import type { Problem } from './api'

export function useSubmit(action: () => Promise<unknown>) {
  const problem = ref<Problem | null>(null)
  const busy = ref(false)
  async function submit() {
    problem.value = null
    busy.value = true
    try {
      await action()
    } catch (error) {
      problem.value = error as Problem
    } finally {
      busy.value = false
    }
  }
  return { problem, busy, submit }
}
