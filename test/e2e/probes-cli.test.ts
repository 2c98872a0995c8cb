/** `statehub hub --probe URL --probes FILE`: the command line's probes, and its refusals. */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { ActorRecord } from 'statehub';
import { recordHub } from 'statehub/testing';
import { hubProcess, statehub } from '../helpers/cli.js';
import { freePort } from '../helpers/redis.js';

function probesFile(content: unknown): string {
  const path = join(mkdtempSync(join(tmpdir(), 'statehub-probes-')), 'probes.json');
  writeFileSync(path, JSON.stringify(content));
  return path;
}

describe('statehub hub with probes', () => {
  it('probes its store always, and each --probe and --probes entry with the file\'s settings', async () => {
    const closed = await freePort();
    const file = probesFile({ defaults: { degradedMs: 250 }, probes: [{ url: 'redis://127.0.0.1:6379', name: 'cache' }] });
    const { url } = await hubProcess(['--probes', file, '--probe', `tcp://127.0.0.1:${closed}`]);
    const recording = await recordHub(url);
    try {
      const store = await recording.waitFor('probe:store', 'healthy');
      const cache = await recording.waitFor('probe:cache', 'healthy');
      const tcp = await recording.waitFor(`probe:tcp://127.0.0.1:${closed}`, 'unhealthy');
      const settings = (record: ActorRecord) => record.snapshot.context as { degradedMs: number; target: string };
      expect([store, cache, tcp].map((record) => settings(record).degradedMs)).toEqual([250, 250, 250]);
      expect(settings(cache).target).toBe('redis://127.0.0.1:6379');
    } finally {
      recording.close();
    }
  });

  it('refuses to start with probes it cannot run, saying which', async () => {
    const bad = statehub(['hub', '--port', '0', '--probe', 'ftp://files.example']);
    expect(await bad.exited()).toBe(1);
    expect(bad.output()).toMatch(/probe ftp:\/\/files\.example\/: statehub cannot check ftp:\/\/ URLs/);
    const typo = statehub(['hub', '--port', '0', '--probes', probesFile({ probes: [{ url: 'redis://127.0.0.1:6379', degradedMS: 5 }] })]);
    expect(await typo.exited()).toBe(1);
    expect(typo.output()).toMatch(/probes file .*probes\.json is invalid: .*degradedMS/s);
  });
});
