/**
 * The signature of a webhook POST: `x-statehub-signature: t=<unix ms>,v1=<hex>`, where the hex is
 * the HMAC-SHA256, keyed by the webhook's secret, of `<t>.<body>` (the body exactly as sent).
 * Signing the time with the body lets a receiver refuse a replayed old request. How a receiver
 * checks it is in the README (and test/examples/webhook-receiver.test.ts).
 */
import { createHmac } from 'node:crypto';

export const SIGNATURE_HEADER = 'x-statehub-signature';

/** The header's value for `body` sent at `timestamp` (epoch ms). */
export function signature(secret: string, timestamp: number, body: string): string {
  return `t=${timestamp},v1=${createHmac('sha256', secret).update(`${timestamp}.${body}`).digest('hex')}`;
}
