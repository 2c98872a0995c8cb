/**
 * A monitor connection at the wire, for benches that need many of them on one machine: a plain
 * TCP socket that does the WebSocket upgrade, the Engine.IO handshake (v4) and the Socket.IO
 * CONNECT to a namespace (v5 text encoding), answers every ping, and reads every frame the hub
 * sends without decoding its payload. The hub sees a WebSocket monitor like any other (same
 * frames written, same pings) while this side costs a fraction of a full client, whose decoding
 * runs, in production, on the monitor's own machine.
 */
import { randomBytes } from 'node:crypto';
import { connect, type Socket } from 'node:net';

export interface Sink {
  /** Bytes read from the TCP connection (upgrade answer, frame headers, payloads). */
  readonly bytesRead: number;
  /** Text frames that carried a Socket.IO event (`42...`). */
  readonly events: number;
  /** Set once the connection is gone. */
  readonly closed: boolean;
  close(): void;
}

const OPCODE_TEXT = 0x1;
const OPCODE_CLOSE = 0x8;
const OPCODE_PING = 0x9;
const OPCODE_PONG = 0xa;

/** A masked client frame (RFC 6455 5.3: every client frame is masked). */
function clientFrame(opcode: number, payload: Buffer): Buffer {
  const length = payload.length;
  const header = length < 126 ? Buffer.from([0x80 | opcode, 0x80 | length]) : Buffer.from([0x80 | opcode, 0x80 | 126, length >> 8, length & 0xff]);
  const mask = randomBytes(4);
  const masked = Buffer.allocUnsafe(length);
  for (let index = 0; index < length; index++) masked[index] = (payload[index] as number) ^ (mask[index & 3] as number);
  return Buffer.concat([header, mask, masked]);
}

/** Opens a sink on `namespace` of the Socket.IO server at `url`; resolves once the namespace accepted it. */
export function openSink(url: string, namespace: string, auth: object = {}): Promise<Sink> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const socket: Socket = connect({ host: hostname, port: Number(port) });
    socket.setNoDelay(true);
    let events = 0;
    let closed = false;
    let upgraded = false;
    let head = '';
    /** Undecoded bytes: a frame header split over two reads. */
    let pending: Buffer | undefined;
    /** Payload bytes of the current frame still to skip. */
    let skip = 0;
    let settled = false;
    const sink: Sink = {
      get bytesRead() {
        return socket.bytesRead;
      },
      get events() {
        return events;
      },
      get closed() {
        return closed;
      },
      close: () => socket.destroy(),
    };
    const fail = (error: Error) => {
      if (!settled) {
        settled = true;
        reject(error);
      }
      socket.destroy();
    };
    const sendText = (text: string) => socket.write(clientFrame(OPCODE_TEXT, Buffer.from(text)));

    /** A whole small text frame the handshake needs to read. */
    const onControlText = (text: string) => {
      if (text.startsWith('0')) {
        // Engine.IO open: join the namespace.
        sendText(`40${namespace},${JSON.stringify(auth)}`);
      } else if (text === '2') {
        sendText('3');
      } else if (text.startsWith(`40${namespace},`)) {
        if (!settled) {
          settled = true;
          resolve(sink);
        }
      } else if (text.startsWith(`44${namespace},`)) {
        fail(new Error(`the hub refused the sink: ${text.slice(namespace.length + 3)}`));
      } else if (text.startsWith('1')) {
        socket.destroy();
      }
    };

    const onFrames = (chunk: Buffer) => {
      const data = pending ? Buffer.concat([pending, chunk]) : chunk;
      pending = undefined;
      let at = 0;
      while (at < data.length) {
        if (skip > 0) {
          const taken = Math.min(skip, data.length - at);
          skip -= taken;
          at += taken;
          continue;
        }
        if (data.length - at < 2) break;
        const opcode = (data[at] as number) & 0x0f;
        let length = (data[at + 1] as number) & 0x7f;
        let headerLength = 2;
        if (length === 126) {
          if (data.length - at < 4) break;
          length = data.readUInt16BE(at + 2);
          headerLength = 4;
        } else if (length === 127) {
          if (data.length - at < 10) break;
          length = Number(data.readBigUInt64BE(at + 2));
          headerLength = 10;
        }
        // Server frames are not masked. Events (`42...`) are recognised by their first two bytes and
        // skipped; anything else (handshake, pings, close) is small and read whole.
        if (data.length - at < headerLength + Math.min(length, 2)) break;
        const isEvent = opcode === OPCODE_TEXT && length >= 2 && data[at + headerLength] === 0x34 && data[at + headerLength + 1] === 0x32;
        if (isEvent) {
          events += 1;
          at += headerLength;
          skip = length;
          continue;
        }
        if (data.length - at < headerLength + length) break;
        const payload = data.subarray(at + headerLength, at + headerLength + length);
        at += headerLength + length;
        if (opcode === OPCODE_TEXT) onControlText(payload.toString());
        else if (opcode === OPCODE_PING) socket.write(clientFrame(OPCODE_PONG, Buffer.from(payload)));
        else if (opcode === OPCODE_CLOSE) socket.destroy();
      }
      if (at < data.length) pending = Buffer.from(data.subarray(at));
    };

    socket.on('connect', () => {
      const key = randomBytes(16).toString('base64');
      socket.write(
        `GET /socket.io/?EIO=4&transport=websocket HTTP/1.1\r\nHost: ${hostname}:${port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
          `Sec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\n\r\n`,
      );
    });
    socket.on('data', (chunk: Buffer) => {
      if (upgraded) return onFrames(chunk);
      head += chunk.toString('latin1');
      const end = head.indexOf('\r\n\r\n');
      if (end < 0) return;
      if (!head.startsWith('HTTP/1.1 101')) return fail(new Error(`no WebSocket upgrade: ${head.slice(0, head.indexOf('\r\n'))}`));
      upgraded = true;
      const rest = Buffer.from(head.slice(end + 4), 'latin1');
      head = '';
      if (rest.length > 0) onFrames(rest);
    });
    socket.on('error', (error) => fail(error));
    socket.on('close', () => {
      closed = true;
      if (!settled) fail(new Error('the connection closed during the handshake'));
    });
  });
}
