/**
 * Real Chromium (Debian's /usr/bin/chromium) driven by playwright-core, for the monitor UI.
 * Each page collects its console errors; screenshots go to test-artifacts/ as a test's evidence.
 */
import { existsSync, mkdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, onTestFinished } from 'vitest';

export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
export const ARTIFACTS = fileURLToPath(new URL('../../test-artifacts/', import.meta.url));
const BUILT_UI = fileURLToPath(new URL('../../dist/ui/index.html', import.meta.url));

let browser: Browser | undefined;

/** Launches one browser for the file. */
export function useBrowser(): () => Browser {
  beforeAll(async () => {
    if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: install Debian's chromium (apt-get install chromium); npm test does it when it runs as root (.ci/system-deps)`);
    if (!existsSync(BUILT_UI)) throw new Error(`${BUILT_UI} is missing: run \`npm run build\` first (npm test does)`);
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    });
  });
  afterAll(async () => {
    await browser?.close();
  });
  return () => {
    if (!browser) throw new Error('the browser is not running');
    return browser;
  };
}

export interface OpenPage {
  page: Page;
  /** Console errors and uncaught exceptions so far. */
  errors: string[];
}

/** A new page at `url`, closed when the test ends. */
export async function openPage(browser: Browser, url: string, options: { width?: number; colorScheme?: 'light' | 'dark' } = {}): Promise<OpenPage> {
  const context = await browser.newContext({ viewport: { width: options.width ?? 1280, height: 900 }, colorScheme: options.colorScheme ?? 'light' });
  const page = await context.newPage();
  const errors: string[] = [];
  page.on('console', (message) => {
    if (message.type() === 'error') errors.push(message.text());
  });
  page.on('pageerror', (error) => errors.push(error.message));
  onTestFinished(() => context.close());
  await page.goto(url);
  return { page, errors };
}

/** Saves what the page shows as test-artifacts/<name>.png; returns the path. */
export async function screenshot(page: Page, name: string): Promise<string> {
  mkdirSync(ARTIFACTS, { recursive: true });
  const path = `${ARTIFACTS}${name}.png`;
  await page.screenshot({ path, fullPage: true });
  return path;
}

/** The `data-state` of every element carrying `data-id` under `selector`, by id. */
export async function statesOn(page: Page, selector: string): Promise<Record<string, string>> {
  return page.$$eval(`${selector}[data-id][data-state]`, (elements) =>
    Object.fromEntries(elements.map((element) => [(element as HTMLElement).dataset.id as string, (element as HTMLElement).dataset.state as string])),
  );
}
