import { createSignal, onCleanup, type Accessor } from 'solid-js';

/** The time, re-read every second, for "since" labels. */
export function useNow(): Accessor<number> {
  const [now, setNow] = createSignal(Date.now());
  const timer = setInterval(() => setNow(Date.now()), 1_000);
  onCleanup(() => clearInterval(timer));
  return now;
}
