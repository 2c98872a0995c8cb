import { z } from 'zod';

/** Actor ids: printable, no whitespace, at most 200 characters. */
export const idSchema = z
  .string()
  .min(1)
  .max(200)
  .regex(/^[\x21-\x7e\u00a0-\uffff]+$/, 'an id has no spaces or control characters');
