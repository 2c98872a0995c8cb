import { z } from 'zod';

/** Actor ids: printable, no whitespace, at most 200 characters, well-formed Unicode (so they fit in a URL). */
export const idSchema = z
  .string()
  .min(1)
  .max(200)
  .regex(/^[\x21-\x7e\u00a0-\uffff]+$/, 'an id has no spaces or control characters')
  .refine((id) => !LONE_SURROGATE.test(id), 'an id has no lone surrogates (it could not be written in a URL)');

const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;
