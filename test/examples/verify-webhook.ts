import { createHmac, timingSafeEqual } from 'node:crypto';

/**
 * True when a webhook request comes from statehub: `body` is the request's body exactly as
 * received (the text, before parsing it), `header` its `x-statehub-signature`, `secret` the one
 * the webhook was registered with. A signature older than `toleranceMs` is refused, so a request
 * recorded on the way cannot be replayed later.
 */
export function verifyWebhook(secret: string, body: string, header: string | undefined, toleranceMs = 5 * 60_000): boolean {
  const fields = new Map((header ?? '').split(',').map((field) => field.split('=', 2) as [string, string]));
  const timestamp = Number(fields.get('t'));
  const given = Buffer.from(fields.get('v1') ?? '', 'utf8');
  if (!Number.isSafeInteger(timestamp) || Math.abs(Date.now() - timestamp) > toleranceMs) return false;
  const expected = Buffer.from(createHmac('sha256', secret).update(`${timestamp}.${body}`).digest('hex'), 'utf8');
  return given.length === expected.length && timingSafeEqual(given, expected);
}
