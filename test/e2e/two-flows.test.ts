/**
 * The bug statehub exists to make impossible, over real processes and sockets: a monitor
 * opened before the machines started and one opened after they ran jobs must show the same
 * thing, and both must equal the hub's snapshot.
 */
import { describe, expect, it } from 'vitest';
import { api, byId } from '../helpers/hub.js';
import { hubProcess, workerProcess } from '../helpers/cli.js';
import { recordHub, type HubRecording } from 'statehub/testing';

const FAST = ['--heartbeat-ms', '100', '--stale-after-ms', '600', '--offline-after-ms', '1500'];

async function runJobs(url: string, count: number): Promise<string[]> {
  const jobs = Array.from({ length: count }, (_, index) => ({
    type: 'simulation',
    backoffMs: 20,
    payload: { durationMs: 40 + index * 5, steps: 4, failTimes: index % 3 === 0 ? 1 : 0 },
  }));
  const answer = await api(url, 'POST', '/api/jobs/batch', { jobs });
  expect(answer.status).toBe(201);
  return answer.body.records.map((record: { id: string }) => record.id);
}

async function waitFinished(recording: HubRecording, jobIds: string[]): Promise<void> {
  for (const id of jobIds) await recording.waitFor(id, 'completed', { timeoutMs: 20_000 });
}

async function expectSameAsSnapshot(url: string, ...recordings: HubRecording[]): Promise<void> {
  const current = (await api(url, 'GET', '/api/snapshot')).body;
  for (const recording of recordings) {
    await recording.caughtUp(current);
    expect(byId(recording.view.values())).toEqual(byId(current.records));
    expect(recording.monitor.view.problems).toEqual([]);
  }
}

describe('a monitor opened first and one opened later show the same thing', () => {
  it("(a) monitor opens, then machines start and run jobs, then one machine's worker is killed", async () => {
    const { url } = await hubProcess(FAST);
    const early = await recordHub(url);
    try {
      await workerProcess(url, ['--connectors', 'simulation:2', '--machine', 'm1', '--id', 'm1-w1']);
      const killed = await workerProcess(url, ['--connectors', 'simulation:2', '--machine', 'm2', '--id', 'm2-w1']);
      const jobs = await runJobs(url, 8);
      await waitFinished(early, jobs);

      killed.process.kill('SIGKILL');
      await early.waitFor('m2-w1', 'offline');
      await early.waitFor('m2', 'offline');
      const late = await recordHub(url);
      try {
        await expectSameAsSnapshot(url, early, late);
        // The late monitor sees the dead machine greyed, not missing; the early one watched it go.
        expect(late.view.get('m2')?.state).toBe('offline');
        expect(late.view.get('m2-w1/simulation-1')?.state).toBe('offline');
        early.expect('m2', 'starting > ready > offline');
        early.expect('m1-w1/simulation-1', 'starting > idle', { prefix: true });
      } finally {
        late.close();
      }
    } finally {
      early.close();
    }
  });

  it('(b) machines start and run jobs, then the monitor opens', async () => {
    const { url } = await hubProcess(FAST);
    await workerProcess(url, ['--connectors', 'simulation:2', '--machine', 'm1', '--id', 'm1-w1']);
    await workerProcess(url, ['--connectors', 'simulation:1', '--machine', 'm2', '--id', 'm2-w1']);
    const jobs = await runJobs(url, 6);
    await expect
      .poll(async () => (await Promise.all(jobs.map((id) => api(url, 'GET', `/api/jobs/${id}`)))).map((answer) => answer.body.state), { timeout: 20_000 })
      .toEqual(jobs.map(() => 'completed'));

    const late = await recordHub(url);
    const later = await recordHub(url);
    try {
      await expectSameAsSnapshot(url, late, later);
      const connectors = [...late.view.values()].filter((record) => record.kind === 'connector');
      expect(connectors.map((record) => record.state)).toEqual(['idle', 'idle', 'idle']);
      expect(late.view.get('m1')?.state).toBe('ready');
    } finally {
      late.close();
      later.close();
    }
  });
});
