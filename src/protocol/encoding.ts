/**
 * JSON of records, made once per record: records never change once committed, so a snapshot
 * served to many clients (and the changes streamed to them) reuse the text of every record that
 * has not changed since the last time, instead of encoding the whole live set again.
 */
import type { ActorRecord, LogEntry, Snapshot } from '../protocol/record.js';

/**
 * The JSON text of objects that never change once made (records, recorded events), made once per
 * object: `encode` gives JSON.stringify's text, made on first use; `remember` keeps a text made
 * already.
 */
export class JsonTexts<T extends object> {
  private readonly texts = new WeakMap<T, string>();

  encode(value: T): string {
    let text = this.texts.get(value);
    if (text === undefined) {
      text = JSON.stringify(value);
      this.texts.set(value, text);
    }
    return text;
  }

  remember(value: T, text: string): void {
    this.texts.set(value, text);
  }
}

const records = new JsonTexts<ActorRecord>();

export function encodeRecord(record: ActorRecord): string {
  return records.encode(record);
}

/** Characters of JSON per slice of `snapshotSlices`: large enough that a slice costs little, small enough to be made in a millisecond or two. */
const SLICE_CHARS = 256 * 1024;

/**
 * The text of JSON.stringify(snapshot) in slices of about SLICE_CHARS characters, for a caller
 * that sends it as it is made (GET /api/snapshot streams a large one, see hub/snapshot-body.ts).
 */
export function* snapshotSlices(snapshot: Snapshot): Generator<string> {
  let slice = `{"offset":${JSON.stringify(snapshot.offset)},"records":[`;
  const { records } = snapshot;
  for (let index = 0; index < records.length; index++) {
    if (index > 0) slice += ',';
    slice += encodeRecord(records[index] as ActorRecord);
    if (slice.length >= SLICE_CHARS) {
      yield slice;
      slice = '';
    }
  }
  yield `${slice}]}`;
}

/** The same text as JSON.stringify(snapshot). */
export function encodeSnapshot(snapshot: Snapshot): string {
  let text = '';
  for (const slice of snapshotSlices(snapshot)) text += slice;
  return text;
}

/** The same text as JSON.stringify(entry). */
export function encodeEntry(entry: LogEntry): string {
  return `{"offset":${JSON.stringify(entry.offset)},"record":${encodeRecord(entry.record)}}`;
}

/**
 * A Socket.IO event packet carrying `json` as its one argument, as socket.io-parser would encode
 * it (`2<nsp>,["<event>",<json>]`): a big payload whose records are already encoded is not
 * encoded again.
 */
export function encodeEventPacket(nsp: string, event: string, json: string): string {
  return `2${nsp === '/' ? '' : `${nsp},`}[${JSON.stringify(event)},${json}]`;
}
