/** The Monitor client (what `statehub submit --wait`, the UI and the test kit build on). */
import { setImmediate as nextTurn } from 'node:timers/promises';
import { describe, expect, it, onTestFinished } from 'vitest';
import { Monitor } from '../../src/client/monitor.js';
import { submit, testHub } from '../helpers/hub.js';
import { startTcpProxy } from '../helpers/tcp-proxy.js';

describe('Monitor', () => {
  it('stays closed when it is closed while its first snapshot is applied (nothing keeps the process alive)', async () => {
    const hub = await testHub();
    const job = await submit(hub, { type: 'nobody-serves-this' });
    const monitor = new Monitor(hub.url, { filter: { ids: [job.id] } });
    onTestFinished(() => monitor.close());
    // What `submit --wait` does when the job is already final in the first snapshot.
    const seen = new Promise<string[]>((resolve) =>
      monitor.view.subscribe((changes) => {
        monitor.close();
        resolve(changes.map((change) => change.record.id));
      }),
    );
    expect(await seen).toEqual([job.id]);
    await nextTurn();
    expect(monitor.socket.active).toBe(false);
    expect(hub.io.of('/monitor').sockets.size).toBe(0);
  });

  it('goes live with the snapshot over HTTP, then follows changes over the socket', async () => {
    const hub = await testHub();
    const monitor = new Monitor(hub.url);
    onTestFinished(() => monitor.close());
    await new Promise<void>((resolve) => monitor.onState((state) => state === 'live' && resolve()));
    expect(monitor.lastSync).toBe('snapshot');
    const job = await submit(hub, { type: 'nobody-serves-this' });
    await expect.poll(() => monitor.view.records.get(job.id)?.state).toBe('pending');
  });

  it('on a path gone silent: stalled, then it reconnects by itself and resumes with since, nothing lost', async () => {
    const hub = await testHub();
    const proxy = await startTcpProxy(hub.port);
    const monitor = new Monitor(proxy.url, { stallAfterMs: 2_000, reconnectAfterMs: 3_500 });
    onTestFinished(() => monitor.close());
    const states: string[] = [];
    monitor.onState((state) => states.push(state));
    await expect.poll(() => monitor.state).toBe('live');

    // The connection stays open, but nothing comes through it any more (a black-holed path).
    proxy.stall();
    const missed = await submit(hub, { type: 'nobody-serves-this' });
    await expect.poll(() => monitor.state, { timeout: 5_000 }).toBe('stalled');
    await expect.poll(() => states.slice(-2), { timeout: 10_000 }).toEqual(['reconnecting', 'live']);
    expect(monitor.lastSync).toBe('replay');
    expect(monitor.view.records.get(missed.id)?.state).toBe('pending');
    expect(monitor.view.problems).toEqual([]);
  });
});
