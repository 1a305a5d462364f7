// A real headless Chromium for the HTML report tests: Debian's `chromium`,
// driven by playwright-core (never a downloaded browser). Records every
// request, failed request and console line, and every Content-Security-Policy
// violation (window.__csp). Skips the test with a message when chromium is
// not installed (set VTPM_CHROMIUM to use another binary).
import { existsSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import type { TestContext } from 'node:test';
import type { BrowserContext, Page } from 'playwright-core';
import { tempDir } from './tmp.js';

export const CHROMIUM = process.env['VTPM_CHROMIUM'] ?? '/usr/bin/chromium';
const FLAGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

export interface Browser {
  context: BrowserContext;
  page: Page;
  /** every URL the page requested */
  requests: string[];
  /** URL → why it failed ("csp": blocked by the page's policy before any network access) */
  failed: Map<string, string>;
  console: string[];
}

/** Opens a local HTML file in headless Chromium; undefined (test skipped) without chromium. */
export async function openInChromium(t: TestContext, file: string): Promise<Browser | undefined> {
  if (!existsSync(CHROMIUM)) {
    t.skip(`chromium not found at ${CHROMIUM} (apt-get install -y chromium, or set VTPM_CHROMIUM); skipping the browser test`);
    return undefined;
  }
  const { chromium } = await import('playwright-core');
  const context = await chromium.launchPersistentContext(tempDir(t, 'vtpm-chromium-'), { executablePath: CHROMIUM, headless: true, args: FLAGS });
  t.after(() => context.close());
  const requests: string[] = [];
  const consoleLines: string[] = [];
  context.on('request', (r) => requests.push(r.url()));
  const failed = new Map<string, string>();
  context.on('requestfailed', (r) => failed.set(r.url(), r.failure()?.errorText ?? 'unknown'));
  const p = context.pages()[0] ?? (await context.newPage());
  p.on('console', (m) => consoleLines.push(m.text()));
  // record CSP violations (init scripts run outside the page's CSP)
  await p.addInitScript({
    content: "window.__csp = []; document.addEventListener('securitypolicyviolation', (e) => window.__csp.push(e.violatedDirective + ' ' + e.blockedURI));",
  });
  await p.goto(pathToFileURL(file).href);
  return { context, page: p, requests, failed, console: consoleLines };
}

/** The names of the VM cards the filters leave visible. */
export async function visibleNames(p: Page): Promise<string[]> {
  return p.locator('details.vm:visible > summary .name').allTextContents();
}
