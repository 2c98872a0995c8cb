/** A machine with its workers, each with its connector badges. Offline stays visible, greyed, until removed. */
import { Index, Show, createSignal } from 'solid-js';
import type { MachineGroup } from '../model.js';
import { useHub } from '../context.js';
import { ago } from '../format.js';
import { ConnectorBadge, StateLabel } from './StateBadge.js';
import { stateSince, type ActorRecord } from '../../../src/protocol/record.js';

/** "3 s": the window a worker missed, from its record. */
function staleAfter(worker: ActorRecord): string {
  const ms = Number(worker.snapshot.context.staleAfterMs);
  return Number.isFinite(ms) ? `${ms / 1000} s` : 'its window';
}

export function MachineCard(props: { group: MachineGroup; now: number }) {
  const hub = useHub();
  const [error, setError] = createSignal<string>();
  const state = () => props.group.machine?.state ?? 'unknown';
  const remove = async (id: string) => {
    setError(undefined);
    try {
      await hub.api(`/api/actors/${encodeURIComponent(id)}`, { method: 'DELETE' });
    } catch (failure) {
      setError((failure as Error).message);
    }
  };
  return (
    <section class={`card machine state-${state()}`} data-id={props.group.id} data-state={state()} aria-label={`machine ${props.group.id}, ${state()}`}>
      <header>
        <h3>{props.group.id}</h3>
        <StateLabel state={state()} actorId={props.group.machine?.id} />
        <Show when={state() === 'offline'}>
          <span class="muted">since {ago(props.group.machine && stateSince(props.group.machine), props.now)}</span>
          <button class="link" onClick={() => remove(props.group.id)}>
            remove
          </button>
        </Show>
      </header>
      <Show when={error()}>
        <p class="error">{error()}</p>
      </Show>
      <ul class="workers">
        {/* Index, not For: rows keep their elements as records change, so a focused badge keeps its focus (and its tooltip). */}
        <Index each={props.group.workers}>
          {(group) => (
            <li class={`worker state-${group().worker.state}`} data-id={group().worker.id} data-state={group().worker.state}>
              <div class="worker-head">
                <span class="worker-id">{group().worker.id}</span>
                <StateLabel state={group().worker.state} actorId={group().worker.id} />
                <Show when={group().worker.state === 'stale'}>
                  <span class="warning">stale since {ago(stateSince(group().worker), props.now)}: no heartbeat for {staleAfter(group().worker)}</span>
                </Show>
                <Show when={group().worker.state === 'offline' && state() !== 'offline'}>
                  <button class="link" onClick={() => remove(group().worker.id)}>
                    remove
                  </button>
                </Show>
              </div>
              <div class="badges">
                <Index each={group().connectors} fallback={<span class="muted">no connectors</span>}>
                  {(connector) => <ConnectorBadge connector={connector()} now={props.now} />}
                </Index>
              </div>
            </li>
          )}
        </Index>
      </ul>
    </section>
  );
}
