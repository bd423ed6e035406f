// Dashboards as people keep them: a file (or a PUT) becomes a page at
// /d/<id> whose widgets show pushed series live; a save, through the API
// or of the file on disk, updates an open page in place, keeping the
// viewer's range and the widgets that did not change; the home page lists
// dashboards and finds them.
import { test, expect, Page } from '@playwright/test';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Livedash } from './support/server';
import { status, sidewaysOverflow } from './support/page';
import { violations } from './support/axe';
import { mkdirSync } from 'node:fs';
import { resolve } from 'node:path';

const shop = (title: string, extra: object[] = []) => ({
  version: 1,
  id: 'shop',
  title,
  time: { range: '15m' },
  widgets: [
    { id: 'orders', type: 'stat', title: 'Orders in queue', grid: { x: 0, y: 0, w: 4, h: 2 },
      series: [{ selector: 'shop_queue_depth' }], unit: 'count',
      options: { thresholds: [{ value: 100, level: 'critical' }] } },
    { id: 'disk', type: 'gauge', title: 'Disk used', grid: { x: 4, y: 0, w: 4, h: 2 },
      series: [{ selector: 'shop_disk_used_percent' }], unit: 'percent' },
    { id: 'regions', type: 'bar', title: 'Sales by region', grid: { x: 8, y: 0, w: 4, h: 2 },
      series: [{ selector: 'shop_sales', label_by: 'region' }], unit: 'currency' },
    { id: 'top', type: 'table', title: 'Top regions', grid: { x: 0, y: 2, w: 4, h: 3 },
      series: [{ selector: 'shop_sales', label_by: 'region' }], unit: 'currency' },
    { id: 'trend', type: 'timeseries', title: 'Queue', grid: { x: 4, y: 2, w: 8, h: 4 },
      series: [{ selector: 'shop_queue_depth' }], unit: 'count' },
    { id: 'notes', type: 'text', title: 'Runbook', grid: { x: 0, y: 6, w: 12, h: 2 },
      options: { markdown: '## On call\n\nPage **Ana** first. <img src=x onerror="window.hacked=1">\n\n- [docs](https://example.org/runbook)\n- [bad](javascript:alert(1))' } },
    ...extra,
  ],
});

async function push(server: Livedash, points: object[]) {
  const response = await fetch(`${server.url}/api/ingest`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(points),
  });
  expect(response.status).toBe(200);
}

async function save(server: Livedash, body: object, revision?: string): Promise<string> {
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  if (revision) headers['if-match'] = `"${revision}"`;
  const response = await fetch(`${server.url}/api/dashboards/shop`, { method: 'PUT', headers, body: JSON.stringify(body) });
  expect(response.status, await response.clone().text()).toBeLessThan(300);
  return (response.headers.get('etag') ?? '').replaceAll('"', '');
}

let dir: string;
let server: Livedash;

test.beforeEach(async () => {
  dir = mkdtempSync(join(tmpdir(), 'livedash-dashboards-'));
  server = await Livedash.start(['--dashboards-dir', dir, '--sample-interval', '1h']);
});

test.afterEach(async () => {
  await server?.stop();
  rmSync(dir, { recursive: true, force: true });
});

const value = (page: Page, id: string) => page.getByTestId(`${id}-value`);

test('a dashboard shows pushed series in each kind of widget, live, and its Markdown safely', async ({ page }) => {
  await save(server, shop('Shop'));
  const now = Date.now();
  await push(server, [
    { name: 'shop_queue_depth', value: 40, ts: now - 60_000 },
    { name: 'shop_queue_depth', value: 50, ts: now - 1_000 },
    { name: 'shop_disk_used_percent', value: 25, ts: now - 1_000 },
    { name: 'shop_sales', labels: { region: 'eu' }, value: 300, ts: now - 1_000 },
    { name: 'shop_sales', labels: { region: 'us' }, value: 1200, ts: now - 1_000 },
  ]);
  // The server renders the values into the page.
  const html = await (await fetch(`${server.url}/d/shop`)).text();
  expect(html).toMatch(/data-testid="orders-value"[^>]*>50</);

  const errors: string[] = [];
  page.on('pageerror', (error) => errors.push(error.message));
  await page.goto(`${server.url}/d/shop`);
  await expect(status(page)).toHaveAttribute('data-state', 'live');
  await expect(page.getByTestId('dashboard-title')).toHaveText('Shop');
  await expect(value(page, 'orders')).toHaveText('50');
  await expect(page.getByTestId('orders-trend')).toHaveText('▲ 25.0%');
  await expect(value(page, 'disk')).toHaveText('25%');
  await expect(page.getByTestId('disk-widget').locator('.gauge')).toHaveAttribute('style', /--fill: 25\.0/);
  const bars = page.getByTestId('regions-bars').locator('.bars__label');
  await expect(bars).toHaveText(['region us', 'region eu']);
  // The table sorts by a header's click: names A to Z, then Z to A.
  const rows = page.getByTestId('top-table').locator('tbody th');
  await expect(rows).toHaveText(['region us', 'region eu']);
  await page.getByTestId('top-table').getByRole('button', { name: 'Series' }).click();
  await expect(rows).toHaveText(['region eu', 'region us']);

  // Live: a new point moves the stat, highlights it, and a crossing colours it.
  await push(server, [{ name: 'shop_queue_depth', value: 120 }]);
  await expect(value(page, 'orders')).toHaveText('120');
  await expect(value(page, 'orders')).toHaveClass(/value-card__value--changed/);
  await expect(page.getByTestId('orders-widget')).toHaveClass(/level-critical/);
  await push(server, [{ name: 'shop_sales', labels: { region: 'apac' }, value: 5000 }]);
  // A series that did not exist when the page loaded is read on the next range change;
  // the known ones move live.
  await push(server, [{ name: 'shop_sales', labels: { region: 'eu' }, value: 9000 }]);
  await expect(bars.first()).toHaveText('region eu');

  // Markdown: structure kept, nothing of it run, unsafe links left as text.
  const notes = page.getByTestId('notes-widget');
  await expect(notes.locator('h3')).toHaveText('On call');
  await expect(notes.locator('strong')).toHaveText('Ana');
  await expect(notes.locator('img')).toHaveCount(0);
  await expect(notes.locator('a')).toHaveCount(1);
  await expect(notes.locator('a')).toHaveAttribute('href', 'https://example.org/runbook');
  expect(await page.evaluate(() => (window as unknown as { hacked?: number }).hacked)).toBeUndefined();
  expect(errors).toEqual([]);
});

test('a save updates an open page in place: the range the viewer chose and unchanged widgets stay', async ({ page }) => {
  const first = await save(server, shop('Shop'));
  await push(server, [{ name: 'shop_queue_depth', value: 7 }]);
  await page.goto(`${server.url}/d/shop?range=5m`);
  await expect(status(page)).toHaveAttribute('data-state', 'live');
  await expect(value(page, 'orders')).toHaveText('7');
  // Marks on elements: a widget re-rendered would lose them.
  await page.getByTestId('trend-chart').evaluate((c) => ((c as unknown as { mark: number }).mark = 1));
  await page.getByTestId('disk-widget').evaluate((c) => ((c as unknown as { mark: number }).mark = 1));

  // Through the API: a title changes and a widget is added.
  const changed = shop('Shop (edited)', [
    { id: 'late', type: 'stat', title: 'Added later', grid: { x: 0, y: 8, w: 3, h: 2 },
      series: [{ selector: 'shop_queue_depth' }], unit: 'count' },
  ]);
  (changed.widgets[1] as { title: string }).title = 'Disk (edited)';
  const second = await save(server, changed, first);
  await expect(page.getByTestId('dashboard-title')).toHaveText('Shop (edited)');
  await expect(value(page, 'late')).toHaveText('7');
  await expect(page.getByTestId('disk-widget').locator('h2')).toHaveText('Disk (edited)');
  expect(await page.getByTestId('trend-chart').evaluate((c) => (c as unknown as { mark?: number }).mark)).toBe(1);
  expect(await page.getByTestId('disk-widget').evaluate((c) => (c as unknown as { mark?: number }).mark)).toBeUndefined();
  expect(new URL(page.url()).searchParams.get('range')).toBe('5m');
  expect(second).not.toBe(first);

  // On disk: the file is edited by hand (another order of keys, other spacing).
  const edited = shop('Shop (from disk)');
  writeFileSync(join(dir, 'shop.json'), JSON.stringify(edited, null, 4));
  await expect(page.getByTestId('dashboard-title')).toHaveText('Shop (from disk)', { timeout: 5_000 });
  await expect(page.getByTestId('late-widget')).toHaveCount(0);
  expect(await page.getByTestId('trend-chart').evaluate((c) => (c as unknown as { mark?: number }).mark)).toBe(1);

  // Removed: the page says so and keeps what it shows.
  rmSync(join(dir, 'shop.json'));
  await expect(page.getByText('This dashboard was removed.')).toBeVisible({ timeout: 5_000 });
  await expect(value(page, 'orders')).toHaveText('7');
});

test('the home page lists dashboards, finds them by search, and an unknown one is a 404', async ({ page }) => {
  await save(server, shop('Shop floor'));
  await page.goto(server.url + '/');
  const list = page.getByTestId('dashboards');
  await expect(list.getByRole('link', { name: 'Shop floor' })).toHaveAttribute('href', '/d/shop');
  await list.getByRole('searchbox').fill('FLOOR');
  await list.getByRole('button', { name: 'Search' }).click();
  await expect(page).toHaveURL(/\?q=FLOOR/);
  await expect(list.getByRole('link', { name: 'Shop floor' })).toBeVisible();
  await list.getByRole('searchbox').fill('nothing-like-it');
  await list.getByRole('button', { name: 'Search' }).click();
  await expect(list).toContainText('No dashboard matches.');
  await page.goto(server.url + '/?q=shop');
  await list.getByRole('link', { name: 'Shop floor' }).click();
  await expect(page).toHaveURL(/\/d\/shop$/);
  await expect(page.getByTestId('dashboard-title')).toHaveText('Shop floor');
  const missing = await fetch(`${server.url}/d/nothing`);
  expect(missing.status).toBe(404);
});

for (const scheme of ['light', 'dark'] as const) {
  test(`every kind of widget passes axe-core in the ${scheme} theme and fits a 360 px phone`, async ({ page }) => {
    const board = shop('Shop');
    (board.widgets[5] as { options: object }).options = {
      markdown: '## On call\n\nPage **Ana** first, then see the [runbook](https://example.org/runbook).\n\n- queue over 100: add a worker\n- disk over 90%: rotate the logs',
    };
    await save(server, board);
    const now = Date.now();
    await push(server, [
      { name: 'shop_queue_depth', value: 40, ts: now - 60_000 },
      { name: 'shop_queue_depth', value: 120, ts: now - 30_000 },
      { name: 'shop_queue_depth', value: 90, ts: now - 1_000 },
      { name: 'shop_disk_used_percent', value: 71, ts: now - 1_000 },
      { name: 'shop_sales', labels: { region: 'eu' }, value: 300, ts: now - 1_000 },
      { name: 'shop_sales', labels: { region: 'us' }, value: 1200, ts: now - 1_000 },
      { name: 'shop_sales', labels: { region: 'apac' }, value: 800, ts: now - 1_000 },
    ]);
    await page.emulateMedia({ colorScheme: scheme });
    await page.goto(`${server.url}/d/shop`);
    await expect(status(page)).toHaveAttribute('data-state', 'live');
    await expect(value(page, 'orders')).toHaveText('90');
    expect(await violations(page)).toEqual([]);
    if (scheme === 'light') {
      const docs = resolve(__dirname, '../../docs');
      mkdirSync(docs, { recursive: true });
      await page.screenshot({ path: resolve(docs, 'screenshot-dashboard.png'), fullPage: true });
    }

    await page.setViewportSize({ width: 360, height: 740 });
    const overflow = await sidewaysOverflow(page);
    expect(overflow.wide).toEqual([]);
    expect(overflow.scroll).toBeLessThanOrEqual(overflow.width);
  });
}

test('hydration and the late-loaded header (presence, alerts) move nothing in the header', async ({ page }) => {
  await save(server, shop('Shop'));
  await page.addInitScript(() => {
    const w = window as unknown as { __shifts: { value: number; header: boolean }[] };
    w.__shifts = [];
    new PerformanceObserver((list) => {
      for (const entry of list.getEntries() as unknown as { value: number; sources?: { node?: Node }[] }[]) {
        const header = (entry.sources ?? []).some((s) => s.node instanceof Element && !!s.node.closest('.dashboard__header'));
        w.__shifts.push({ value: entry.value, header });
      }
    }).observe({ type: 'layout-shift', buffered: true });
  });
  await page.goto(`${server.url}/d/shop`);
  await expect(status(page)).toHaveAttribute('data-state', 'live');
  // The presence line and the alerts panel have come.
  await expect(page.getByTestId('presence')).toContainText('Viewing now');
  await expect(page.getByTestId('alerts-badge')).toHaveText('No alerts');
  const shifts = await page.evaluate(() => (window as unknown as { __shifts: { value: number; header: boolean }[] }).__shifts);
  // The connection's own line says "Connecting…" then "Live": that much
  // may move; nothing else of the header does.
  const header = shifts.filter((s) => s.header).reduce((sum, s) => sum + s.value, 0);
  expect(header).toBeLessThan(0.002);
  expect(shifts.reduce((sum, s) => sum + s.value, 0)).toBeLessThan(0.05);
});
