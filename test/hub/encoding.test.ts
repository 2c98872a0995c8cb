import { Encoder, PacketType } from 'socket.io-parser';
import { describe, expect, it } from 'vitest';
import { encodeEntry, encodeEventPacket, encodeSnapshot } from '../../src/protocol/encoding.js';
import type { ActorRecord, Snapshot } from '../../src/protocol/record.js';

const record = (id: string, seq: number): ActorRecord => ({
  id,
  kind: 'job',
  seq,
  state: 'pending',
  updatedAt: '2026-11-23T00:00:00.000Z',
  snapshot: { status: 'active', value: 'pending', context: { note: 'quotes " and \\ and \u2028 and é' }, children: {} },
});

describe('pre-encoded records and packets', () => {
  const snapshot: Snapshot = { offset: 'abc:1-0', records: [record('job-1', 1), record('job-2', 3)] };

  it('encodes a snapshot and an entry as JSON.stringify would', () => {
    expect(encodeSnapshot(snapshot)).toBe(JSON.stringify(snapshot));
    const entry = { offset: '7', record: record('job-3', 2) };
    expect(encodeEntry(entry)).toBe(JSON.stringify(entry));
  });

  it('builds the Socket.IO event packet socket.io-parser builds, in a namespace and in the root one', () => {
    for (const nsp of ['/monitor', '/']) {
      const [expected] = new Encoder().encode({ type: PacketType.EVENT, nsp, data: ['snapshot', snapshot] });
      expect(encodeEventPacket(nsp, 'snapshot', encodeSnapshot(snapshot))).toBe(expected);
    }
  });
});
