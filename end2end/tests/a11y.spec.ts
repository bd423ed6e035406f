// The page as assistive technology and both themes meet it: an axe-core
// scan of the loaded, live page (the charts with their history, legends and
// controls, the time picker, the cards) reports no violation, in the light
// theme and in the dark one, with the table view and the custom range form
// (showing an error) open too. The screenshots
// of both themes in docs/ are taken here.
import { test, expect, Page } from '@playwright/test';
import { mkdirSync } from 'node:fs';
import { resolve } from 'node:path';
import { Livedash } from './support/server';
import { status, sidewaysOverflow } from './support/page';
import { violations } from './support/axe';

let server: Livedash;

test.beforeAll(async () => {
  server = await Livedash.start(['--sample-interval', '250ms']);
  // A few seconds of history, so the charts and legends are full.
  await expect
    .poll(async () => (await (await fetch(`${server.url}/healthz`)).json()).uptime_s, { timeout: 30_000 })
    .toBeGreaterThanOrEqual(5);
  // Annotations on the charts: a span on the CPU chart and a moment on all.
  const now = Date.now();
  for (const note of [
    { text: 'maintenance', time: now - 4_000, end: now - 2_500, widget: 'cpu' },
    { text: 'deploy v1.4', time: now - 1_000 },
  ]) {
    const response = await fetch(`${server.url}/api/annotations`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(note),
    });
    expect(response.status).toBe(201);
  }
});

test.afterAll(async () => {
  await server.stop();
});

async function openLoaded(page: Page) {
  await page.goto(server.url + '/');
  await expect(status(page)).toHaveAttribute('data-state', 'live');
  // History has answered: the total and one line per core.
  await expect
    .poll(async () => page.getByTestId('cpu-legend').locator('.legend-item').count(), { timeout: 10_000 })
    .toBeGreaterThanOrEqual(2);
}

for (const scheme of ['light', 'dark'] as const) {
  test(`axe-core finds no violation on the live page in the ${scheme} theme`, async ({ page }) => {
    await page.emulateMedia({ colorScheme: scheme });
    await openLoaded(page);
    expect(await violations(page)).toEqual([]);

    const docs = resolve(__dirname, '../../docs');
    mkdirSync(docs, { recursive: true });
    // A chart off screen is not drawn: the whole page in view draws them all.
    const height = await page.evaluate(() => document.documentElement.scrollHeight);
    await page.setViewportSize({ width: 1280, height });
    const cores = page.getByTestId('cores-chart');
    const drawn = Number(await cores.getAttribute('data-draws'));
    await expect.poll(async () => Number(await cores.getAttribute('data-draws'))).toBeGreaterThan(drawn);
    await page.screenshot({ path: resolve(docs, `screenshot-${scheme}.png`), fullPage: true });
    await page.setViewportSize({ width: 1280, height: 800 });

    // The table view, and the custom range form showing an error, are
    // part of the page too.
    await page.getByTestId('cpu-table-toggle').click();
    await expect(page.getByTestId('cpu-table')).toBeVisible();
    await page.getByTestId('range-select').selectOption('custom');
    await page.getByTestId('range-from').fill('yesterday-ish');
    await page.getByTestId('range-from').press('Enter');
    await expect(page.getByTestId('range-error')).not.toBeEmpty();
    // And the form that makes a note on a chart (the memory chart: the
    // CPU chart shows its table now).
    await page.getByTestId('memory-chart').focus();
    await page.keyboard.press('ArrowLeft');
    await page.keyboard.press('a');
    await expect(page.getByTestId('memory-annotate')).toBeVisible();
    expect(await violations(page)).toEqual([]);
  });
}

test('the page fits a 360 px wide phone: nothing scrolls sideways', async ({ page }) => {
  await page.setViewportSize({ width: 360, height: 740 });
  await openLoaded(page);
  const overflow = await sidewaysOverflow(page);
  expect(overflow.wide).toEqual([]);
  expect(overflow.scroll).toBeLessThanOrEqual(overflow.width);
});

test('a wall screen (?kiosk) shows the data and the LIVE badge, and no controls', async ({ page }) => {
  await page.goto(server.url + '/?kiosk');
  await expect(status(page)).toHaveAttribute('data-state', 'live');
  await expect(page.getByTestId('live-badge')).toHaveText('LIVE');
  await expect(page.getByTestId('cpu-chart')).toBeVisible();
  // The legends stay (they say which line is which); nothing else to press.
  const controls = page.locator('button:visible:not(.legend-item), select:visible, input:visible');
  await expect(controls).toHaveCount(0);
  await expect(page.locator('.legend-item:visible').first()).toBeVisible();
  // Without it, the controls are there.
  await page.goto(server.url + '/');
  await expect(page.getByTestId('pause')).toBeVisible();
});

test('the theme follows the system, and the switch chooses light or dark for this browser, kept on reload', async ({ page }) => {
  await page.emulateMedia({ colorScheme: 'dark' });
  await openLoaded(page);
  const background = () => page.evaluate(() => getComputedStyle(document.body).backgroundColor);
  const theme = () => page.evaluate(() => document.documentElement.dataset.theme ?? 'system');
  const toggle = page.getByTestId('theme-switch');
  await expect(toggle).toHaveText('Theme: system');
  expect(await background()).toBe('rgb(15, 19, 32)');
  await toggle.click();
  await expect(toggle).toHaveText('Theme: light');
  expect(await theme()).toBe('light');
  expect(await background()).toBe('rgb(244, 246, 250)');
  // Kept in this browser: a reload opens light, with no dark frame first.
  await page.reload();
  expect(await theme()).toBe('light');
  await expect(toggle).toHaveText('Theme: light');
  await expect(status(page)).toHaveAttribute('data-state', 'live');
  await toggle.click();
  expect(await theme()).toBe('dark');
  await page.emulateMedia({ colorScheme: 'light' });
  expect(await background()).toBe('rgb(15, 19, 32)');
  expect(await violations(page)).toEqual([]);
  await toggle.click();
  await expect(toggle).toHaveText('Theme: system');
  expect(await background()).toBe('rgb(244, 246, 250)');
});
