import { createSignal, onCleanup, type Accessor } from 'solid-js';
import { useHub } from './context.js';

/**
 * The hub's time (epoch ms, to the second) for "since" and "ago" labels: this machine's clock
 * corrected by what the hub said its clock read. It moves at each of the hub's whole seconds and
 * reads that second, so two pages on two machines show the same "5 s ago" at the same moment, not
 * one a second behind the other.
 */
export function useNow(): Accessor<number> {
  const hub = useHub();
  const second = () => Math.floor(hub.now() / 1_000) * 1_000;
  const [now, setNow] = createSignal(second());
  let timer: ReturnType<typeof setTimeout>;
  // A tenth into the hub's next second: past its turn, whatever small error the correction has.
  const schedule = () => (timer = setTimeout(tick, 1_100 - (hub.now() % 1_000)));
  const tick = () => {
    setNow(second());
    schedule();
  };
  schedule();
  onCleanup(() => clearTimeout(timer));
  return now;
}
