/**
 * The monitor page at `/`: the files Vite built into dist/ui, read once at start and served from
 * that list alone (no path is ever looked up on disk, so none can reach outside it), or a plain
 * live page when the monitor is not built. A typed or shared address of a page of the monitor
 * (`/jobs/job_123`) is sent on to its route (`/#/jobs/job_123`).
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { extname, join, relative, sep } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { fallbackPage } from './fallback-page.js';

interface UiFile {
  body: Buffer;
  type: string;
  /** Vite names assets by their content: they never change under one name. */
  immutable: boolean;
}

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.json': 'application/json',
  '.woff2': 'font/woff2',
  '.map': 'application/json',
};

/** The monitor's routes (ui/src/main.tsx): an address of one of them opens the page there. */
const PAGE_PATH = /^\/(jobs|submit|system|actors|machines)(\/[^?#]*)?$/;

/** Registers the monitor's files (or the plain page) and the redirects of its page addresses. */
export function serveMonitor(app: FastifyInstance, uiDir: string | undefined): void {
  const files = uiDir && existsSync(join(uiDir, 'index.html')) ? readFiles(uiDir) : undefined;
  if (!files) {
    app.get('/', async (_request, reply) => reply.type('text/html; charset=utf-8').send(fallbackPage));
  } else {
    for (const [path, file] of files) {
      app.get(path, async (_request, reply) =>
        reply
          .type(file.type)
          .header('cache-control', file.immutable ? 'public, max-age=31536000, immutable' : 'no-cache')
          .send(file.body),
      );
    }
  }
  app.get('/*', async (request, reply) => {
    const path = request.url.split('?')[0] ?? '';
    if (!PAGE_PATH.test(path) || !String(request.headers.accept ?? '').includes('text/html')) return reply.callNotFound();
    return reply.redirect(`/#${path}`, 302);
  });
}

/** Every file under `dir`, by URL path (`/index.html` also as `/`). */
function readFiles(dir: string): Map<string, UiFile> {
  const files = new Map<string, UiFile>();
  for (const entry of readdirSync(dir, { recursive: true, withFileTypes: true })) {
    if (!entry.isFile()) continue;
    const full = join(entry.parentPath, entry.name);
    const path = `/${relative(dir, full).split(sep).join('/')}`;
    files.set(path, {
      body: readFileSync(full),
      type: TYPES[extname(entry.name)] ?? 'application/octet-stream',
      immutable: path.startsWith('/assets/'),
    });
  }
  const index = files.get('/index.html');
  if (index) files.set('/', index);
  return files;
}
