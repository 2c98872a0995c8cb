/** Webhooks in a hub: the registry the API uses, and the deliveries and nudges that run with the hub. */
import { WEBHOOK_DEFAULTS, type WebhookSettings } from '../../../machines/webhook.js';
import type { ActorHost } from '../actor-host.js';
import type { ReportError } from '../report-error.js';
import { Deliveries } from './deliveries.js';
import { Nudges } from './nudges.js';
import { WebhookRegistry } from './registry.js';

export interface HubWebhooks {
  readonly registry: WebhookRegistry;
  /** Learns the live webhooks (before the hub serves anything). */
  start(): Promise<void>;
  /** Stops nudging, ends this hub's rounds where they are (each reports how far it got). */
  stop(): Promise<void>;
}

/**
 * `settings` are what registrations do not choose (the lease, the poll) and their defaults for
 * what they may. Throws when the POST timeout is over half the lease (no round could finish a POST).
 */
export function createWebhooks(host: ActorHost, hubId: string, settings: Partial<WebhookSettings>, onError: ReportError): HubWebhooks {
  const chosen = { ...WEBHOOK_DEFAULTS, ...settings };
  if (chosen.timeoutMs * 2 > chosen.leaseMs) {
    throw new Error(`the webhook POST timeout (${chosen.timeoutMs} ms) must be at most half the webhook lease (${chosen.leaseMs} ms)`);
  }
  const deliveries = new Deliveries(host, hubId, onError);
  const nudges = new Nudges(host, (id) => deliveries.forget(id), onError);
  const unsubscribe = host.store.subscribe((entries) => nudges.observe(entries));
  // Webhook changes were lost before this hub saw them: learn the live ones again.
  const stopGaps = host.store.onGap(() => void nudges.load().catch((error: unknown) => onError(error, { what: 'the live webhooks could not be read again after a gap in the log' })));
  return {
    registry: new WebhookRegistry(host, chosen),
    start: () => nudges.load(),
    async stop() {
      unsubscribe();
      stopGaps();
      await nudges.stop();
      await deliveries.stop();
    },
  };
}
