import { Show } from 'solid-js';

/** A job's progress; `message`, what its connector said with it ("node 3 of 7"), beside the bar. */
export function ProgressBar(props: { value: number; state: string; message?: string | null | undefined }) {
  return (
    <span class="progress-with-message">
      <span class={`progress state-${props.state}`} role="progressbar" aria-valuemin="0" aria-valuemax="100" aria-valuenow={props.value} aria-valuetext={props.message ? `${props.value}%: ${props.message}` : `${props.value}%`}>
        <span class="fill" style={{ width: `${Math.max(0, Math.min(100, props.value))}%` }} />
        <span class="label">{props.value}%</span>
      </span>
      <Show when={props.message}>
        <span class="progress-message" title={props.message ?? ''}>
          {props.message}
        </span>
      </Show>
    </span>
  );
}
