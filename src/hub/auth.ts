/** Tokens and roles: who may read, submit and run connectors. */
import { z } from 'zod';
import { readJsonFile } from '../json-file.js';
import { HubError } from '../protocol/errors.js';

export const ROLES = ['admin', 'monitor', 'client', 'worker'] as const;
export type Role = (typeof ROLES)[number];
/** read: snapshots and streams; submit: jobs and cancels; work: run connectors; manage: remove actors. */
export type Permission = 'read' | 'submit' | 'work' | 'manage';

const GRANTS: Record<Role, readonly Permission[]> = {
  admin: ['read', 'submit', 'work', 'manage'],
  monitor: ['read'],
  client: ['read', 'submit'],
  worker: ['work'],
};

export const tokensSchema = z.record(z.string().min(1), z.enum(ROLES));
export type Tokens = z.output<typeof tokensSchema>;

/** Reads a tokens file (`{ "<token>": "admin" | "monitor" | "client" | "worker" }`), or says clearly why it cannot. */
export function readTokensFile(path: string): Tokens {
  const result = tokensSchema.safeParse(readJsonFile(path, 'tokens file'));
  if (!result.success) throw new Error(`tokens file ${path} must map tokens to ${ROLES.join(' | ')}: ${z.prettifyError(result.error)}`);
  if (Object.keys(result.data).length === 0) throw new Error(`tokens file ${path} holds no tokens`);
  return result.data;
}

export class Auth {
  constructor(private readonly tokens: Tokens | undefined) {}

  get enabled(): boolean {
    return this.tokens !== undefined;
  }

  /** True when `token` is one of the configured tokens. */
  knows(token: string | undefined): token is string {
    return this.tokens !== undefined && token !== undefined && Object.hasOwn(this.tokens, token);
  }

  /** Throws 401 for a missing or unknown token, 403 for a role without `permission`. Open when no tokens are configured. */
  check(token: string | undefined, permission: Permission): void {
    if (!this.tokens) return;
    if (!token) throw new HubError('unauthorized', 'a token is required: send Authorization: Bearer <token> (or auth.token on a socket)');
    const role = Object.hasOwn(this.tokens, token) ? this.tokens[token] : undefined;
    if (!role) throw new HubError('unauthorized', 'unknown token');
    if (!GRANTS[role].includes(permission)) throw new HubError('forbidden', `role ${role} may not ${permission}`);
  }
}

/** The token of an `Authorization: Bearer <token>` header. */
export function bearerToken(header: string | undefined): string | undefined {
  const match = header?.match(/^Bearer\s+(\S+)\s*$/i);
  return match?.[1];
}
