/** How the Socket.IO edges say no: the same error body as HTTP, through an ack, an `error` event or `connect_error`. */
import type { Socket } from 'socket.io';
import { HubError, type ErrorBody } from '../protocol/errors.js';

/** Answers an event the hub does not accept: through its ack when it has one, else an `error` event. */
export function reject(socket: Socket, error: HubError, args: unknown[]): void {
  const ack = args.at(-1);
  const body: ErrorBody = error.toBody();
  if (typeof ack === 'function') ack(body);
  else socket.emit('error', body);
}

/** A handshake refusal: `connect_error` on the client, with the error body in `data`. */
export function toConnectError(error: unknown): Error & { data: ErrorBody['error'] } {
  const hubError = error instanceof HubError ? error : new HubError('internal', (error as Error).message ?? String(error));
  return Object.assign(new Error(hubError.message), { data: hubError.toBody().error });
}
