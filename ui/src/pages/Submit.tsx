/** Submitting jobs as a client would, apart from monitoring: one or a batch, then watch them live. */
import { For, Show, createSignal } from 'solid-js';
import type { ActorRecord } from '../../../src/protocol/record.js';
import { LiveJobRow } from '../components/LiveJobRow.js';
import { useHub } from '../context.js';

function parseJson(text: string, field: string): unknown {
  if (text.trim() === '') return undefined;
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new Error(`${field} is not JSON: ${(error as Error).message}`);
  }
}

export function Submit() {
  const hub = useHub();
  const [type, setType] = createSignal('simulation');
  const [priority, setPriority] = createSignal('0');
  const [payload, setPayload] = createSignal('{ "durationMs": 3000, "steps": 10 }');
  const [requirements, setRequirements] = createSignal('');
  const [maxAttempts, setMaxAttempts] = createSignal('3');
  const [timeoutMs, setTimeoutMs] = createSignal('');
  const [count, setCount] = createSignal('1');
  const [error, setError] = createSignal<string>();
  const [busy, setBusy] = createSignal(false);
  const [submitted, setSubmitted] = createSignal<string[]>([]);

  const submit = async (event: SubmitEvent) => {
    event.preventDefault();
    setError(undefined);
    try {
      const job = {
        type: type().trim(),
        priority: Number(priority()),
        payload: parseJson(payload(), 'payload'),
        requirements: parseJson(requirements(), 'requirements'),
        maxAttempts: Number(maxAttempts()),
        ...(timeoutMs().trim() ? { timeoutMs: Number(timeoutMs()) } : {}),
      };
      const copies = Number(count());
      setBusy(true);
      const records =
        copies === 1
          ? [await hub.api<ActorRecord>('/api/jobs', { method: 'POST', body: JSON.stringify(job) })]
          : (await hub.api<{ records: ActorRecord[] }>('/api/jobs/batch', { method: 'POST', body: JSON.stringify({ jobs: Array.from({ length: copies }, () => job) }) })).records;
      setSubmitted((list) => [...records.map((record) => record.id), ...list].slice(0, 200));
    } catch (failure) {
      setError((failure as Error).message);
    } finally {
      setBusy(false);
    }
  };

  return (
    <div class="page submit">
      <form class="panel form" onSubmit={submit} aria-label="submit jobs">
        <h2>Submit jobs</h2>
        <label>
          type <input name="type" required value={type()} onInput={(e) => setType(e.currentTarget.value)} />
        </label>
        <label>
          priority <input name="priority" type="number" step="1" value={priority()} onInput={(e) => setPriority(e.currentTarget.value)} />
        </label>
        <label class="wide">
          payload (JSON) <textarea name="payload" rows="4" value={payload()} onInput={(e) => setPayload(e.currentTarget.value)} />
        </label>
        <label class="wide">
          requirements (JSON, optional) <textarea name="requirements" rows="2" placeholder='{ "gpu": 1, "models": ["sdxl"] }' value={requirements()} onInput={(e) => setRequirements(e.currentTarget.value)} />
        </label>
        <label>
          max attempts <input name="maxAttempts" type="number" min="1" max="1000" value={maxAttempts()} onInput={(e) => setMaxAttempts(e.currentTarget.value)} />
        </label>
        <label>
          timeout (ms, optional) <input name="timeoutMs" type="number" min="1" value={timeoutMs()} onInput={(e) => setTimeoutMs(e.currentTarget.value)} />
        </label>
        <label>
          how many <input name="count" type="number" min="1" max="1000" value={count()} onInput={(e) => setCount(e.currentTarget.value)} />
        </label>
        <div class="actions">
          <button type="submit" class="primary" disabled={busy()}>
            {Number(count()) > 1 ? `Submit ${count()} jobs` : 'Submit job'}
          </button>
        </div>
        <Show when={error()}>
          <p class="error" role="alert">
            {error()}
          </p>
        </Show>
      </form>
      <section class="panel">
        <h2>Submitted here</h2>
        <ul class="live-jobs">
          <For each={submitted()} fallback={<li class="empty">Nothing submitted from this page yet.</li>}>
            {(id) => <LiveJobRow id={id} />}
          </For>
        </ul>
      </section>
    </div>
  );
}
