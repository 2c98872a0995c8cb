/**
 * Which web pages may use the hub. Any page a user visits can open a WebSocket to
 * `ws://127.0.0.1:3000` or send a request there; the browser says where the page came from (the
 * `Origin` header) and leaves the decision to the server. The hub accepts:
 *
 * - requests without an `Origin`: not sent by a page's script (the worker SDK, scripts, curl);
 * - its own origin: the monitor page it serves, under whatever host name the user typed (the
 *   Origin's host is the request's `Host`). A hub on loopback takes only loopback names for
 *   that (localhost, 127.x.x.x, [::1]): a site whose name an attacker points at 127.0.0.1 (DNS
 *   rebinding) sends its own name as both, and is still a foreign page;
 * - the origins given with `--allow-origin` (`*`: every origin), which also get CORS headers.
 *
 * Everything else is refused: a Socket.IO handshake (polling or WebSocket) through the server's
 * `allowRequest`, an HTTP request with `403 forbidden`.
 */
import type { IncomingHttpHeaders } from 'node:http';
import type { FastifyInstance } from 'fastify';
import { HubError } from '../protocol/errors.js';

export const ANY_ORIGIN = '*';

/** `https://dash.example:8443` as the browser writes it, or `*`; throws saying why `text` is no origin. */
export function parseOrigin(text: string): string {
  if (text === ANY_ORIGIN) return text;
  let url: URL | undefined;
  try {
    url = new URL(text);
  } catch {
    // said below
  }
  if (!url || url.origin === 'null' || url.pathname !== '/' || url.search || url.hash || url.username || url.password) {
    throw new Error(`"${text}" is not an origin: write scheme://host[:port] as the browser's address bar shows it (e.g. https://dash.example), or * for every origin`);
  }
  return url.origin;
}

export type OriginVerdict =
  /** `cors`: the origin to name in CORS headers (an allowed page of another origin). */
  | { allowed: true; cors?: string }
  | { allowed: false; message: string };

export class OriginPolicy {
  private readonly any: boolean;
  private readonly origins: ReadonlySet<string>;

  /**
   * `allowOrigins`: origins (or `*`) besides the hub's own; throws on one that is not an origin.
   * `loopback`: the hub listens on loopback only, so its own pages have loopback host names.
   */
  constructor(
    allowOrigins: readonly string[] = [],
    private readonly loopback = false,
  ) {
    const parsed = allowOrigins.map(parseOrigin);
    this.any = parsed.includes(ANY_ORIGIN);
    this.origins = new Set(parsed.filter((origin) => origin !== ANY_ORIGIN));
  }

  check(request: { headers: IncomingHttpHeaders }): OriginVerdict {
    const { origin, host } = request.headers;
    if (origin === undefined) return { allowed: true };
    if (sameHost(origin, host) && (!this.loopback || isLoopbackHost(host))) return { allowed: true };
    if (this.any || this.origins.has(normalize(origin) ?? '')) return { allowed: true, cors: origin };
    return {
      allowed: false,
      message:
        origin === 'null'
          ? 'pages without an origin (sandboxed frames, file: pages) are not allowed; start the hub with --allow-origin "*" to allow every origin'
          : `origin ${origin} is not allowed; start the hub with --allow-origin ${origin} to allow it`,
    };
  }
}

/**
 * Refuses requests of pages from other origins with 403 before anything else runs, and gives
 * allowed ones CORS headers (answering their preflight). Installed on `app` before its routes.
 */
export function guardOrigins(app: FastifyInstance, policy: OriginPolicy): void {
  app.addHook('onRequest', async (request, reply) => {
    const verdict = policy.check(request.raw);
    if (!verdict.allowed) throw new HubError('forbidden', verdict.message);
    if (verdict.cors === undefined) return;
    // On the raw response, so that hijacked replies (the SSE stream) carry them too.
    reply.raw.setHeader('access-control-allow-origin', verdict.cors);
    reply.raw.setHeader('vary', 'Origin');
    if (request.method === 'OPTIONS' && request.headers['access-control-request-method'] !== undefined) {
      return reply
        .code(204)
        .headers({
          'access-control-allow-methods': 'GET, POST, DELETE',
          'access-control-allow-headers': 'authorization, content-type, last-event-id',
          'access-control-max-age': '600',
        })
        .send();
    }
  });
}

/** localhost (and its subdomains), 127.0.0.0/8 and [::1], with any port. */
function isLoopbackHost(host: string | undefined): boolean {
  if (!host) return false;
  try {
    const { hostname } = new URL(`http://${host}`);
    return hostname === 'localhost' || hostname.endsWith('.localhost') || hostname === '[::1]' || /^127(\.\d{1,3}){3}$/.test(hostname);
  } catch {
    return false;
  }
}

function normalize(origin: string): string | undefined {
  try {
    return new URL(origin).origin;
  } catch {
    return undefined;
  }
}

/** Whether a page of `origin` is served by this host (the port included). */
function sameHost(origin: string, host: string | undefined): boolean {
  if (!host) return false;
  try {
    const page = new URL(origin);
    if (page.protocol !== 'http:' && page.protocol !== 'https:') return false;
    // Parsed with the page's scheme, so that a default port (80, 443) compares equal to none.
    return page.host === new URL(`${page.protocol}//${host}`).host;
  } catch {
    return false;
  }
}
