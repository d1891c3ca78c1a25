// The dashboard end to end: real headless Chromium against a real server with the demo feed.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, Page } from 'playwright-core';
import { SignJWT } from 'jose';
import { startServer, type TestServer } from '../helpers/server.js';
import { ensureDashboardBuilt, joinChat, launchChromium, openDashboard, type DashboardPage } from './dashboard-page.js';

// Generous: the demo feed changes each event every 2–7 s, a restarted server is found by backoff,
// and a busy CI machine may take seconds to open a page.
const WAIT = { timeout: 30_000, interval: 100 };

let server: TestServer;
let browser: Browser;
const opened: DashboardPage[] = [];

async function open(): Promise<DashboardPage> {
  const tab = await openDashboard(browser, `${server.url}/`);
  opened.push(tab);
  return tab;
}

function connectionState(page: Page): Promise<string> {
  return page.getByTestId('connection-state').textContent().then((text) => text ?? '');
}

async function totalUpdates(page: Page): Promise<number> {
  const texts = await page.getByTestId('event-updates').allInnerTexts();
  return texts.reduce((sum, text) => sum + Number.parseInt(text, 10), 0);
}

beforeAll(async () => {
  ensureDashboardBuilt();
  server = await startServer({ demo: true });
  browser = await launchChromium();
});

afterAll(async () => {
  for (const tab of opened) await tab.context.close();
  await browser?.close();
  await server?.close();
});

describe('Dashboard', { timeout: 120_000 }, () => {
  it('loads with no console error and connects', async () => {
    const { page, problems } = await open();
    await expect.poll(() => connectionState(page), WAIT).toBe('connected');
    await expect.poll(() => page.getByTestId('client-id').innerText(), WAIT).toMatch(/^[0-9a-f-]{8,}$/);
    expect(await page.title()).toBe('Switchyard dashboard');
    expect(problems).toEqual([]);
  });

  it('shows the 5 demo events and updates them live', async () => {
    const { page, problems } = await open();
    await expect.poll(() => page.getByTestId('event-card').count(), WAIT).toBe(5);
    const ids = await page.getByTestId('event-card').evaluateAll((cards) => cards.map((card) => card.getAttribute('data-event-id')));
    expect(ids).toEqual(['EVENT#00', 'EVENT#01', 'EVENT#02', 'EVENT#03', 'EVENT#04']);
    const before = await totalUpdates(page);
    await expect.poll(() => totalUpdates(page), WAIT).toBeGreaterThan(before);
    // An updated card is marked so its scores flash.
    await expect.poll(() => page.locator('[data-testid="event-card"].updated').count(), WAIT).toBeGreaterThan(0);
    expect(Number(await page.getByTestId('events-received').innerText())).toBeGreaterThan(0);
    expect(problems).toEqual([]);
  });

  it('measures a PING round trip and logs the frames', async () => {
    const { page, problems } = await open();
    await expect.poll(() => connectionState(page), WAIT).toBe('connected');
    expect(await page.getByTestId('ping-last').innerText()).toBe('–');
    await page.getByTestId('ping').click();
    await expect.poll(() => page.getByTestId('ping-last').innerText(), WAIT).toMatch(/^\d+(\.\d+)? ms$/);
    await page.getByTestId('ping').click();
    await expect.poll(() => page.getByTestId('ping-chart').locator('polyline').count(), WAIT).toBe(1);
    expect(await page.getByTestId('ping-average').innerText()).toMatch(/ms$/);
    expect(await page.getByTestId('ping-p95').innerText()).toMatch(/ms$/);

    // The log holds the ping out and the pong in; filtering by type shows only that type.
    await page.getByTestId('log-type').selectOption('pong');
    const types = await page.getByTestId('log-entry').evaluateAll((entries) => entries.map((entry) => entry.getAttribute('data-type')));
    expect(types.length).toBeGreaterThanOrEqual(2);
    expect(new Set(types)).toEqual(new Set(['pong']));
    await page.getByTestId('log-type').selectOption('ping');
    await expect.poll(() => page.locator('[data-testid="log-entry"].log-out[data-type="ping"]').count(), WAIT).toBeGreaterThanOrEqual(2);

    // Paused, the view holds still while frames keep arriving.
    await page.getByTestId('log-type').selectOption('all');
    await page.getByTestId('log-pause').click();
    const frozen = await page.getByTestId('log-entry').count();
    await page.getByTestId('ping').click();
    await expect.poll(() => page.getByText(/paused · [1-9]\d* new/).count(), WAIT).toBe(1);
    expect(await page.getByTestId('log-entry').count()).toBe(frozen);
    await page.getByTestId('log-pause').click();
    await expect.poll(() => page.getByTestId('log-entry').count(), WAIT).toBeGreaterThan(frozen);
    expect(problems).toEqual([]);
  });

  it('shows the server figures from $stats', async () => {
    const { page, problems } = await open();
    await expect.poll(async () => Number(await page.getByTestId('stats-connections').innerText()), WAIT).toBeGreaterThanOrEqual(1);
    expect(await page.getByTestId('stats-node').innerText()).toBe(server.server.nodeId);
    await expect.poll(() => page.getByTestId('stats-chart').locator('polyline').count(), WAIT).toBe(2);
    expect(problems).toEqual([]);
  });

  it('lets two pages chat in one room, unseen by a third in another room', { timeout: 180_000 }, async () => {
    const room = `lobby-${Date.now().toString(36)}`;
    const ada = await open();
    const grace = await open();
    const linus = await open();
    await joinChat(ada.page, 'Ada', room);
    await joinChat(grace.page, 'Grace', room);
    await joinChat(linus.page, 'Linus', `ops-${Date.now().toString(36)}`);

    for (const { page } of [ada, grace]) {
      await expect.poll(() => page.getByTestId('chat-member').allInnerTexts(), WAIT).toEqual(expect.arrayContaining([expect.stringContaining('Ada'), expect.stringContaining('Grace')]));
    }
    await expect.poll(() => ada.page.getByTestId('chat-notice').allInnerTexts(), WAIT).toContain('Grace joined');
    expect(await linus.page.getByTestId('chat-member').allInnerTexts()).toEqual([expect.stringContaining('Linus')]);

    // Typing shows on the other page, then the message itself.
    await ada.page.getByTestId('chat-input').fill('Hello from Ada');
    await expect.poll(() => grace.page.getByTestId('chat-typing').innerText(), WAIT).toBe('Ada is typing…');
    await ada.page.getByTestId('chat-send').click();
    await expect.poll(() => grace.page.getByTestId('chat-message').allInnerTexts(), WAIT).toEqual([expect.stringContaining('Hello from Ada')]);
    await grace.page.getByTestId('chat-input').fill('Hi Ada, Grace here');
    await grace.page.getByTestId('chat-input').press('Enter');
    await expect.poll(() => ada.page.getByTestId('chat-message').allInnerTexts(), WAIT).toEqual([
      expect.stringContaining('Hello from Ada'),
      expect.stringContaining('Hi Ada, Grace here'),
    ]);
    expect(await ada.page.locator('[data-testid="chat-message"].mine').allInnerTexts()).toEqual([expect.stringContaining('Hello from Ada')]);

    // Both messages went through the server before this point, and Linus's room heard neither.
    expect(await linus.page.getByTestId('chat-message').count()).toBe(0);
    expect(await linus.page.getByTestId('chat-messages').innerText()).not.toContain('Ada');

    // A late joiner gets the room's recent messages from history.
    const late = await open();
    await joinChat(late.page, 'Late', room);
    await expect.poll(() => late.page.getByTestId('chat-message').allInnerTexts(), WAIT).toEqual([
      expect.stringContaining('Hello from Ada'),
      expect.stringContaining('Hi Ada, Grace here'),
    ]);

    // Leaving is seen by the others.
    await grace.page.getByTestId('chat-leave').click();
    await expect.poll(() => ada.page.getByTestId('chat-notice').allInnerTexts(), WAIT).toContain('Grace left');
    await expect.poll(() => ada.page.getByTestId('chat-member').allInnerTexts(), WAIT).not.toEqual(expect.arrayContaining([expect.stringContaining('Grace')]));
    for (const tab of [ada, grace, linus, late]) expect(tab.problems).toEqual([]);
  });

  it('disconnects and connects on demand', async () => {
    const { page, problems } = await open();
    await expect.poll(() => connectionState(page), WAIT).toBe('connected');
    await page.getByTestId('disconnect').click();
    await expect.poll(() => connectionState(page), WAIT).toBe('closed');
    expect(await page.getByTestId('last-close').innerText()).toBe('1000 client closed');
    await page.getByTestId('connect').click();
    await expect.poll(() => connectionState(page), WAIT).toBe('connected');
    // The feeds come back after a manual reconnect.
    await expect.poll(() => page.getByTestId('event-card').count(), WAIT).toBe(5);
    const before = await totalUpdates(page);
    await expect.poll(() => totalUpdates(page), WAIT).toBeGreaterThan(before);
    expect(problems).toEqual([]);
  });

  it('authenticates with a token from the URL fragment on a server that requires it', async () => {
    const secret = 'dashboard-e2e-secret-of-at-least-32-bytes';
    const secured = await startServer({ demo: true, auth: 'required', jwtSecret: secret });
    try {
      const token = await new SignJWT({}).setProtectedHeader({ alg: 'HS256' }).setSubject('ada').setExpirationTime('1h').sign(new TextEncoder().encode(secret));
      const tab = await openDashboard(browser, `${secured.url}/#token=${token}`);
      opened.push(tab);
      await expect.poll(() => connectionState(tab.page), WAIT).toBe('connected');
      await expect.poll(() => tab.page.getByTestId('user-id').count(), WAIT).toBe(1);
      expect(await tab.page.getByTestId('user-id').innerText()).toBe('ada');
      await expect.poll(() => tab.page.getByTestId('event-card').count(), WAIT).toBe(5);
      expect(tab.problems).toEqual([]);
    } finally {
      await secured.close();
    }
  });

  it('shows "reconnecting" while the server is down and reconnects on its own when it is back', async () => {
    const { page, problems } = await open();
    await expect.poll(() => connectionState(page), WAIT).toBe('connected');
    const port = server.port;
    await server.close();
    await expect.poll(() => connectionState(page), WAIT).toBe('reconnecting');
    await expect.poll(() => page.getByTestId('connection-detail').innerText(), WAIT).toMatch(/retrying/);
    expect(await page.getByTestId('connect').innerText()).toBe('Retry now');
    expect(await page.getByTestId('last-close').innerText()).toMatch(/^1001\b/);

    server = await startServer({ demo: true, port });
    await expect.poll(() => connectionState(page), WAIT).toBe('connected');
    await expect.poll(() => page.getByTestId('reconnects').innerText(), WAIT).not.toBe('0');
    await expect.poll(() => page.getByTestId('stats-node').innerText(), WAIT).toBe(server.server.nodeId);
    await expect.poll(() => page.getByTestId('event-card').count(), WAIT).toBe(5);
    // The browser itself reports each refused connection attempt on the console; nothing else may appear.
    expect(problems.filter((problem) => !/WebSocket connection to '.*' failed/.test(problem))).toEqual([]);
  });
});
