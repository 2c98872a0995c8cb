export function ProgressBar(props: { value: number; state: string }) {
  return (
    <span class={`progress state-${props.state}`} role="progressbar" aria-valuemin="0" aria-valuemax="100" aria-valuenow={props.value}>
      <span class="fill" style={{ width: `${Math.max(0, Math.min(100, props.value))}%` }} />
      <span class="label">{props.value}%</span>
    </span>
  );
}
