/**
 * A plain live page at `/` for when the monitor UI is not built: the snapshot and every change,
 * read from `/api/events`. No framework, no build step.
 */
export const fallbackPage = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>statehub</title>
<style>
  :root { color-scheme: light dark; font: 14px/1.4 system-ui, sans-serif; }
  body { margin: 1.5rem; }
  h1 { font-size: 1.2rem; margin: 0 0 .25rem; }
  #status { color: GrayText; margin-bottom: 1rem; }
  table { border-collapse: collapse; width: 100%; }
  th, td { text-align: left; padding: .2rem .6rem; border-bottom: 1px solid #8884; font-variant-numeric: tabular-nums; }
  th { position: sticky; top: 0; background: Canvas; }
  .s-idle, .s-ready, .s-completed, .s-healthy { color: #2a8a3a; }
  .s-active, .s-busy, .s-running, .s-assigned { color: #1f6fd1; }
  .s-error, .s-failed, .s-unhealthy { color: #c62828; }
  .s-offline, .s-stale, .s-cancelled, .s-stopped { color: GrayText; }
  .s-retrying, .s-pending, .s-starting, .s-draining, .s-degraded { color: #b26a00; }
</style>
</head>
<body>
<h1>statehub</h1>
<p>The monitor UI is not built here (run <code>npm run build</code>, or <code>npm start</code>): this is a plain live view of the same records.</p>
<div id="status">connecting…</div>
<table>
  <thead><tr><th>kind</th><th>id</th><th>parent</th><th>state</th><th>seq</th><th>detail</th><th>updated</th></tr></thead>
  <tbody id="rows"></tbody>
</table>
<script>
const KIND_ORDER = { machine: 0, worker: 1, connector: 2, probe: 3, job: 4 };
const records = new Map();
let offset = null;
let dirty = false;
const status = document.getElementById('status');
const rows = document.getElementById('rows');
function detail(r) {
  const c = r.snapshot.context || {};
  if (r.kind === 'job') return c.type + ' · ' + c.progress + '% · attempt ' + c.attempts + '/' + c.maxAttempts + (c.error ? ' · ' + c.error.message : '');
  if (r.kind === 'connector') return c.type + (c.jobId ? ' · ' + c.jobId : '') + (c.error ? ' · ' + c.error.message : '');
  return '';
}
// Local time, with its zone named.
const clockFormat = new Intl.DateTimeFormat('en-US', { hour: '2-digit', minute: '2-digit', second: '2-digit', fractionalSecondDigits: 3, hourCycle: 'h23', timeZoneName: 'short' });
function clock(iso) {
  return clockFormat.format(new Date(iso));
}
function apply(record) {
  if (record.removed) records.delete(record.id); else records.set(record.id, record);
  dirty = true;
}
function render() {
  if (!dirty) return;
  dirty = false;
  const sorted = [...records.values()].sort((a, b) => KIND_ORDER[a.kind] - KIND_ORDER[b.kind] || (a.id < b.id ? -1 : 1)).slice(0, 2000);
  rows.replaceChildren(...sorted.map((r) => {
    const tr = document.createElement('tr');
    for (const [text, cls] of [[r.kind], [r.id], [r.parentId || ''], [r.state, 's-' + r.state], [r.seq], [detail(r)], [clock(r.updatedAt)]]) {
      const td = document.createElement('td');
      td.textContent = text;
      if (cls) td.className = cls;
      tr.append(td);
    }
    return tr;
  }));
  status.textContent = 'live · ' + records.size + ' actors · offset ' + offset;
}
setInterval(render, 250);
const events = new EventSource('/api/events');
events.addEventListener('snapshot', (e) => {
  const snapshot = JSON.parse(e.data);
  records.clear();
  snapshot.records.forEach(apply);
  offset = snapshot.offset;
});
events.addEventListener('transition', (e) => {
  const entry = JSON.parse(e.data);
  apply(entry.record);
  offset = entry.offset;
});
events.onerror = () => { status.textContent = 'reconnecting…'; };
</script>
</body>
</html>
`;
