import { createSignal, onCleanup, type Accessor } from 'solid-js';
import { useHub } from './context.js';

/**
 * The hub's time (epoch ms), re-read every second, for "since" and "ago" labels: this machine's
 * clock corrected by what the hub said its clock read, so a page on a machine whose clock is off
 * still counts from the records' own clock.
 */
export function useNow(): Accessor<number> {
  const hub = useHub();
  const [now, setNow] = createSignal(hub.now());
  const timer = setInterval(() => setNow(hub.now()), 1_000);
  onCleanup(() => clearInterval(timer));
  return now;
}
