/** A state, in its colour. Connectors show as badges with a tooltip: state, since when, last error. */
import { stateSince, type ActorRecord } from '../../../src/protocol/record.js';
import { ago } from '../format.js';

/** `w1/simulation-2` of worker `w1` reads `simulation-2`. */
function shortName(connector: ActorRecord): string {
  const prefix = `${connector.parentId}/`;
  return connector.id.startsWith(prefix) ? connector.id.slice(prefix.length) : connector.id;
}

export function StateLabel(props: { state: string }) {
  return <span class={`state state-${props.state}`}>{props.state}</span>;
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
    <span class={`badge state-${props.connector.state}`} tabindex="0" role="img" aria-label={describe()} data-tip={describe()} data-id={props.connector.id} data-state={props.connector.state}>
      <span class="dot" />
      {shortName(props.connector)}
    </span>
  );
}
