/** Which changes a webhook is told (its filter, machines/webhook.ts), as a predicate built once per filter. */
import type { WebhookFilter } from '../../../machines/webhook.js';
import type { ActorRecord } from '../../protocol/record.js';

export type ChangeMatcher = (record: ActorRecord) => boolean;

/**
 * A predicate for the records `filter` lets through. Records of webhooks never match (a delivery
 * changes its webhook: delivering that change would make another, forever). A removal matches
 * like any change, by the record's last state.
 */
export function changeMatcher(filter: WebhookFilter): ChangeMatcher {
  const kinds = filter.kinds && new Set(filter.kinds);
  const states = filter.states && new Set(filter.states);
  const jobTypes = filter.jobTypes && new Set(filter.jobTypes);
  return (record) =>
    record.kind !== 'webhook' &&
    (!kinds || kinds.has(record.kind)) &&
    (!states || states.has(record.state)) &&
    (!jobTypes || (record.kind === 'job' && jobTypes.has(String(record.snapshot.context.type))));
}
