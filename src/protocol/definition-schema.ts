/**
 * Checks a machine definition sent by a worker (its connector machine, which may be another build
 * than the hub's): the shape of `MachineDefinition`, and a version that is the hash of its content,
 * so a worker cannot file a definition under another one's version.
 */
import { z } from 'zod';
import { definitionVersion, type MachineDefinition, type StateDefinition, type TransitionDefinition } from './definition.js';

const name = z.string().max(500);

const transitionSchema: z.ZodType<TransitionDefinition> = z.strictObject({
  event: name,
  label: name,
  targets: z.array(name).max(100),
  guard: name.optional(),
  delay: z.union([name, z.number().finite()]).optional(),
  actions: z.array(name).max(100),
  reenter: z.boolean(),
});

const stateSchema: z.ZodType<StateDefinition> = z.lazy(() =>
  z.strictObject({
    id: name,
    key: name,
    type: z.enum(['atomic', 'compound', 'parallel', 'final', 'history']),
    initial: name.optional(),
    invoke: z.array(name).max(100),
    transitions: z.array(transitionSchema).max(500),
    states: z.array(stateSchema).max(500),
  }),
);

export const machineDefinitionSchema = z
  .strictObject({ id: name, version: z.string().regex(/^[0-9a-f]{16}$/), root: stateSchema })
  .refine((definition) => definition.version === definitionVersion(definition.id, definition.root), {
    message: 'its version is not the hash of its content',
    path: ['version'],
  }) as z.ZodType<MachineDefinition>;
