/**
 * A state, in its colour. Connectors show as badges with a tooltip: state, since when, last error.
 * Both link to the actor in the inspector when they know whose state it is.
 */
import { A } from '@solidjs/router';
import { Show } from 'solid-js';
import { stateSince, type ActorRecord } from '../../../src/protocol/record.js';
import { ago } from '../format.js';
import { actorPath } from '../inspector/links.js';

/** `w1/simulation-2` of worker `w1` reads `simulation-2`. */
function shortName(connector: ActorRecord): string {
  const prefix = `${connector.parentId}/`;
  return connector.id.startsWith(prefix) ? connector.id.slice(prefix.length) : connector.id;
}

/** With `actorId`, a link to that actor (to its change at offset `at`, when given). */
export function StateLabel(props: { state: string; actorId?: string; at?: string }) {
  return (
    <Show when={props.actorId} fallback={<span class={`state state-${props.state}`}>{props.state}</span>}>
      {(id) => (
        <A class={`state state-${props.state}`} href={actorPath(id(), props.at)}>
          {props.state}
        </A>
      )}
    </Show>
  );
}

export function ConnectorBadge(props: { connector: ActorRecord; now: number }) {
  const context = () => props.connector.snapshot.context as { error?: { message: string } | null; jobId?: string | null; latencyMs?: number | null };
  // One string, shown by the page's single tooltip: thousands of badges cost no hidden DOM.
  const describe = () =>
    [
      `${props.connector.id}: ${props.connector.state} since ${ago(stateSince(props.connector), props.now)}`,
      context().jobId ? `job ${context().jobId}` : '',
      context().latencyMs != null ? `health check ${context().latencyMs} ms` : '',
      context().error ? `last error: ${context().error?.message}` : '',
    ]
      .filter(Boolean)
      .join('\n');
  return (
    <A class={`badge state-${props.connector.state}`} href={actorPath(props.connector.id)} aria-label={describe()} data-tip={describe()} data-id={props.connector.id} data-state={props.connector.state}>
      <span class="dot" />
      {shortName(props.connector)}
    </A>
  );
}
