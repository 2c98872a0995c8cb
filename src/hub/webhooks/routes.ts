/**
 * `/api/webhooks`: registering (`manage`, i.e. admin), listing and reading (`read`: the records
 * are in every monitor's snapshot anyway), deleting and resuming (`manage`), and the delivery log.
 */
import type { FastifyInstance, onRequestHookHandler } from 'fastify';
import { z } from 'zod';
import { parseInput } from '../../protocol/errors.js';
import { idSchema } from '../../protocol/ids.js';
import { webhookRegistrationSchema, webhookResumeSchema } from '../../protocol/webhooks.js';
import type { Permission } from '../auth.js';
import { requireBody } from '../body.js';
import type { WebhookRegistry } from './registry.js';

const idParams = z.object({ id: idSchema });

export function webhookRoutes(app: FastifyInstance, registry: WebhookRegistry, allow: (permission: Permission) => onRequestHookHandler): void {
  const webhookId = (params: unknown) => parseInput(idParams, params, 'webhook id').id;

  app.post('/api/webhooks', { onRequest: allow('manage') }, async (request, reply) => {
    const registration = parseInput(webhookRegistrationSchema, requireBody(request), 'webhook');
    return reply.status(201).send(await registry.register(registration));
  });

  app.get('/api/webhooks', { onRequest: allow('read') }, async () => ({ webhooks: await registry.list() }));

  app.get('/api/webhooks/:id', { onRequest: allow('read') }, async (request) => registry.get(webhookId(request.params)));

  app.delete('/api/webhooks/:id', { onRequest: allow('manage') }, async (request) => registry.remove(webhookId(request.params)));

  app.post('/api/webhooks/:id/resume', { onRequest: allow('manage') }, async (request) => {
    const { from } = parseInput(webhookResumeSchema, request.body ?? {}, 'resume');
    return registry.resume(webhookId(request.params), from);
  });

  app.get('/api/webhooks/:id/deliveries', { onRequest: allow('read') }, async (request) => registry.deliveries(webhookId(request.params)));
}
