/**
 * GET /api/snapshot's body for a large snapshot, as a stream: the same text as `encodeSnapshot`,
 * made and handed to the socket a slice at a time (`snapshotSlices`) as the socket takes it. A
 * snapshot of 100k actors is about 50 MB; made as one string it held the hub's event loop for
 * 0.2-0.6 s (heartbeats, other monitors and requests all waited), and four new monitors at once
 * for over a second. Sliced, the hub goes on between slices and the first bytes leave while the
 * rest is made. The records are those of one snapshot (committed records never change), so the
 * text is the same either way.
 */
import { Readable } from 'node:stream';
import { createGzip, constants as zlibConstants } from 'node:zlib';
import { snapshotSlices } from '../protocol/encoding.js';
import type { Snapshot } from '../protocol/record.js';

/** The snapshot's JSON as a byte stream (UTF-8), gzipped (level 1, on zlib's thread pool) when `gzip`. */
export function snapshotStream(snapshot: Snapshot, options: { gzip: boolean }): Readable {
  const body = Readable.from(snapshotSlices(snapshot), { objectMode: false, encoding: 'utf8' });
  if (!options.gzip) return body;
  const zipped = createGzip({ level: zlibConstants.Z_BEST_SPEED });
  // A client that goes away mid-answer destroys the gzip stream: the slices stop with it.
  zipped.once('close', () => body.destroy());
  return body.pipe(zipped);
}
