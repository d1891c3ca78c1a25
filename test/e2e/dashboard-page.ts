// Shared by the dashboard's end-to-end tests and screenshot script: the built dashboard, Debian's
// headless Chromium, and pages that record every console problem.

import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';

const DASHBOARD_DIR = fileURLToPath(new URL('../../packages/dashboard/', import.meta.url));
const BUILT_INDEX = fileURLToPath(new URL('../../packages/server/public/index.html', import.meta.url));

/** Chromium as Debian installs it (`apt-get install chromium`; scripts/test.sh does that when missing). */
export const CHROMIUM_PATH = process.env['CHROMIUM_PATH'] ?? '/usr/bin/chromium';

/** Builds the dashboard into packages/server/public when it is not built yet (`npm test` builds it first). */
export function ensureDashboardBuilt(): void {
  if (existsSync(BUILT_INDEX)) return;
  execFileSync('npx', ['vite', 'build', '--logLevel', 'warn'], { cwd: DASHBOARD_DIR, stdio: 'inherit' });
}

/** Launches headless Chromium with everything that talks to the internet turned off. */
export function launchChromium(): Promise<Browser> {
  if (!existsSync(CHROMIUM_PATH)) {
    throw new Error(`${CHROMIUM_PATH} is missing: install it with "apt-get install -y chromium" (scripts/test.sh does)`);
  }
  return chromium.launch({
    executablePath: CHROMIUM_PATH,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run', '--disable-quic'],
  });
}

/** A dashboard tab and the console errors, warnings and uncaught exceptions it produced. */
export interface DashboardPage {
  context: BrowserContext;
  page: Page;
  problems: string[];
}

/** Opens the dashboard at `url` in a fresh browser context (its own storage, its own client). */
export async function openDashboard(browser: Browser, url: string, viewport = { width: 1440, height: 900 }, deviceScaleFactor = 1): Promise<DashboardPage> {
  const context = await browser.newContext({ viewport, deviceScaleFactor });
  const page = await context.newPage();
  const problems: string[] = [];
  page.on('console', (message) => {
    if (message.type() === 'error' || message.type() === 'warning') problems.push(`${message.type()}: ${message.text()}`);
  });
  page.on('pageerror', (error) => problems.push(`uncaught: ${error.message}`));
  await page.goto(url);
  return { context, page, problems };
}

/** Joins chat `room` as `name` and waits until the room is open. */
export async function joinChat(page: Page, name: string, room: string): Promise<void> {
  await page.getByTestId('chat-name').fill(name);
  await page.getByTestId('chat-room').fill(room);
  await page.getByTestId('chat-join').click();
  await page.getByTestId('chat-seat').waitFor();
}
