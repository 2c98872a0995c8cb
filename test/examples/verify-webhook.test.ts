/** The README's `verifyWebhook` (test/examples/verify-webhook.ts) checks what the hub signs, and nothing else. */
import { expect, it } from 'vitest';
import { signature } from '../../src/hub/webhooks/signature.js';
import { verifyWebhook } from './verify-webhook.js';

const SECRET = 'whsec_0123456789abcdefghijklmnop';
const BODY = '{"offset":"abc:1-0","record":{"id":"job_1","kind":"job","state":"completed"}}';

it('accepts a body signed by the hub now', () => {
  expect(verifyWebhook(SECRET, BODY, signature(SECRET, Date.now(), BODY))).toBe(true);
});

it('refuses another body, another secret, an old or future signature, and a missing or garbled header', () => {
  const now = Date.now();
  expect(verifyWebhook(SECRET, BODY.replace('completed', 'failed'), signature(SECRET, now, BODY))).toBe(false);
  expect(verifyWebhook('another secret entirely', BODY, signature(SECRET, now, BODY))).toBe(false);
  expect(verifyWebhook(SECRET, BODY, signature(SECRET, now - 6 * 60_000, BODY))).toBe(false);
  expect(verifyWebhook(SECRET, BODY, signature(SECRET, now + 6 * 60_000, BODY))).toBe(false);
  expect(verifyWebhook(SECRET, BODY, signature(SECRET, now - 6 * 60_000, BODY), 10 * 60_000)).toBe(true);
  expect(verifyWebhook(SECRET, BODY, undefined)).toBe(false);
  expect(verifyWebhook(SECRET, BODY, 'garbage')).toBe(false);
  expect(verifyWebhook(SECRET, BODY, signature(SECRET, now, BODY).replace(/v1=.{4}/, 'v1=0000'))).toBe(false);
  // The time is part of what is signed: moving it breaks the signature.
  const [, hex] = signature(SECRET, now, BODY).split(',v1=');
  expect(verifyWebhook(SECRET, BODY, `t=${now + 1},v1=${hex}`)).toBe(false);
});
