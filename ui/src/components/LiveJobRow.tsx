/** One job followed live through its remote actor (the Submit page's list), down to its last record when it leaves the live set. */
import { A } from '@solidjs/router';
import { fromActorRef } from '@xstate/solid';
import type { AnyActorRef } from 'xstate';
import { Show } from 'solid-js';
import type { ActorRecord } from '../../../src/protocol/record.js';
import { useHub } from '../context.js';
import { ProgressBar } from './ProgressBar.js';
import { StateLabel } from './StateBadge.js';

export function LiveJobRow(props: { id: string }) {
  const hub = useHub();
  const record = fromActorRef(hub.actor(props.id) as unknown as AnyActorRef) as unknown as () => ActorRecord | undefined;
  const context = () => record()?.snapshot.context as { progress?: number; progressMessage?: string | null; attempts?: number; error?: { message: string } | null } | undefined;
  return (
    <li class="live-job" data-id={props.id} data-state={record()?.state ?? 'unknown'}>
      <A href={`/jobs/${encodeURIComponent(props.id)}`}>{props.id}</A>
      <Show when={record()} fallback={<span class="muted">not in the live set</span>}>
        {(job) => (
          <>
            <StateLabel state={job().state} actorId={job().id} />
            <ProgressBar value={context()?.progress ?? 0} state={job().state} message={context()?.progressMessage} />
            <span class="muted">attempt {context()?.attempts}</span>
            <Show when={context()?.error}>
              <span class="error">{context()?.error?.message}</span>
            </Show>
            <Show when={job().removed}>
              <span class="muted">left the live set</span>
            </Show>
          </>
        )}
      </Show>
    </li>
  );
}
