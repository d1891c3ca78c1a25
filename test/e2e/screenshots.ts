// Takes the dashboard screenshots in docs/images (desktop 1440x900, phone 390x844) from a live demo.
// Run: npm run build && npx tsx --conditions=source test/e2e/screenshots.ts

import { fileURLToPath } from 'node:url';
import type { Page } from 'playwright-core';
import { startServer } from '../helpers/server.js';
import { ensureDashboardBuilt, joinChat, launchChromium, openDashboard } from './dashboard-page.js';

const IMAGES = fileURLToPath(new URL('../../docs/images/', import.meta.url));

function pause(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

async function say(page: Page, text: string): Promise<void> {
  await page.getByTestId('chat-input').fill(text);
  await page.getByTestId('chat-send').click();
  await pause(400);
}

ensureDashboardBuilt();
const server = await startServer({ demo: true });
const browser = await launchChromium();
try {
  const room = 'lobby';
  const desktop = await openDashboard(browser, `${server.url}/`, { width: 1440, height: 900 });
  const grace = await openDashboard(browser, `${server.url}/`, { width: 1024, height: 768 });
  const phone = await openDashboard(browser, `${server.url}/`, { width: 390, height: 844 }, 2);
  await joinChat(desktop.page, 'Ada', room);
  await joinChat(grace.page, 'Grace', room);
  await joinChat(phone.page, 'Linus', room);
  await say(desktop.page, 'Morning! Is the Harbour City match on the board?');
  await say(grace.page, 'Yes, EVENT#00. Scores flash when they change.');
  await say(phone.page, 'Watching from my phone.');
  await say(desktop.page, 'The PING chart is live too, try it.');
  for (const { page } of [desktop, phone]) await page.getByTestId('ping-auto').check();
  // Long enough for charts to fill and every event to change a few times.
  await pause(20_000);
  // Shoot right after a score changed, so its flash is on the picture, and while Grace is typing.
  const scores = (): Promise<string> => desktop.page.locator('.score').allInnerTexts().then((texts) => texts.join(' '));
  const before = await scores();
  await grace.page.getByTestId('chat-input').fill('typing…');
  for (let waited = 0; waited < 30_000 && (await scores()) === before; waited += 50) await pause(50);
  await pause(150);
  await desktop.page.screenshot({ path: `${IMAGES}dashboard-desktop.png`, fullPage: true });
  // Typing in the chat scrolled the phone down; its screenshot shows the top of the page.
  await phone.page.evaluate(() => window.scrollTo(0, 0));
  await phone.page.screenshot({ path: `${IMAGES}dashboard-phone.png` });
  const problems = [...desktop.problems, ...grace.problems, ...phone.problems];
  if (problems.length > 0) console.error('console problems:', problems);
  console.log(`screenshots written to ${IMAGES}`);
} finally {
  await browser.close();
  await server.close();
}
