/** The Monitor client (what `statehub submit --wait`, the UI and the test kit build on). */
import { setImmediate as nextTurn } from 'node:timers/promises';
import { describe, expect, it, onTestFinished } from 'vitest';
import { Monitor } from '../../src/client/monitor.js';
import { submit, testHub } from '../helpers/hub.js';

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
});
