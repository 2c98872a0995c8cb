/**
 * JSON of records, made once per record: records never change once committed, so a snapshot
 * served to many clients (and the changes streamed to them) reuse the text of every record that
 * has not changed since the last time, instead of encoding the whole live set again.
 */
import type { ActorRecord, LogEntry, Snapshot } from '../protocol/record.js';

const records = new WeakMap<ActorRecord, string>();

export function encodeRecord(record: ActorRecord): string {
  let text = records.get(record);
  if (text === undefined) {
    text = JSON.stringify(record);
    records.set(record, text);
  }
  return text;
}

/** The same text as JSON.stringify(snapshot). */
export function encodeSnapshot(snapshot: Snapshot): string {
  const parts = new Array<string>(snapshot.records.length);
  for (let index = 0; index < parts.length; index++) parts[index] = encodeRecord(snapshot.records[index] as ActorRecord);
  return `{"offset":${JSON.stringify(snapshot.offset)},"records":[${parts.join(',')}]}`;
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
