/** Webhook registrations and resumes (HTTP), validated before anything is written. */
import { z } from 'zod';
import { MAX_WEBHOOK_BACKOFF_MS } from '../../machines/webhook.js';
import { jobTypeSchema } from './jobs.js';
import { offsetSchema } from './monitor.js';
import { KINDS } from './record.js';

const deliverableKind = z.enum(KINDS).refine((kind) => kind !== 'webhook', 'webhooks are not told of webhooks (a delivery would make a change to deliver, forever)');

const stateName = z
  .string()
  .min(1)
  .max(100)
  .regex(/^[A-Za-z][A-Za-z0-9_-]*$/, 'a state is a name such as completed');

export const webhookFilterSchema = z
  .strictObject({
    kinds: z.array(deliverableKind).min(1).max(KINDS.length).optional(),
    states: z.array(stateName).min(1).max(100).optional(),
    jobTypes: z.array(jobTypeSchema).min(1).max(1_000).optional(),
  })
  .refine((filter) => !filter.jobTypes || !filter.kinds || filter.kinds.includes('job'), {
    message: 'jobTypes selects jobs, and kinds leaves jobs out: nothing would match',
    path: ['jobTypes'],
  });

/** An http(s) URL without credentials: the URL is in the webhook's record, which monitors read. */
export const webhookUrlSchema = z
  .string()
  .max(2_048)
  .superRefine((text, context) => {
    let url: URL;
    try {
      url = new URL(text);
    } catch {
      context.addIssue({ code: 'custom', message: `"${text.slice(0, 100)}" is not a URL` });
      return;
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') {
      context.addIssue({ code: 'custom', message: `the URL must be http or https, not ${url.protocol.slice(0, -1)}` });
    } else if (url.username || url.password) {
      context.addIssue({
        code: 'custom',
        message: 'the URL must not carry credentials: it is shown to everyone who reads records; the endpoint checks the signature instead',
      });
    }
  });

/** Longest POST timeout (ms) a registration may ask for. */
export const MAX_WEBHOOK_TIMEOUT_MS = 120_000;

export const webhookRegistrationSchema = z.strictObject({
  url: webhookUrlSchema,
  filter: webhookFilterSchema.optional(),
  /** The HMAC key; the hub makes one when none is given. */
  secret: z.string().min(16, 'a secret is at least 16 characters').max(1_024).optional(),
  description: z.string().max(500).optional(),
  /** Deliver the changes after this offset (default: from now). It must still be held. */
  since: offsetSchema.optional(),
  maxFailures: z.number().int().min(1).max(1_000).optional(),
  backoffMs: z.number().int().min(0).max(MAX_WEBHOOK_BACKOFF_MS).optional(),
  timeoutMs: z.number().int().min(100).max(MAX_WEBHOOK_TIMEOUT_MS).optional(),
});

export type WebhookRegistration = z.output<typeof webhookRegistrationSchema>;

/** `from: "now"` skips to the end of the log: the changes in between are not delivered (say so when resuming after a trim). */
export const webhookResumeSchema = z.strictObject({ from: z.enum(['cursor', 'now']).optional() });
