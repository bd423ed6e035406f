// The dashboard editor in the page, as a newcomer uses it: create a
// dashboard from the home page, add a chart and a stat for pushed series
// (names offered as you type), see bad input refused beside its field,
// undo, reorder, save; a second page follows every save live and a
// reload keeps it. Two editors at once: edits to different widgets
// merge, the same widget changed on both sides is shown side by side and
// never silently overwritten. Versions are listed and one restored; an
// export imported again exports the same bytes.
import { test, expect, Page, Browser } from '@playwright/test';
import { mkdtempSync, rmSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { mkdirSync } from 'node:fs';
import { Livedash } from './support/server';
import { status, sidewaysOverflow } from './support/page';
import { violations } from './support/axe';

let dir: string;
let server: Livedash;

test.beforeEach(async () => {
  dir = mkdtempSync(join(tmpdir(), 'livedash-editor-'));
  server = await Livedash.start(['--dashboards-dir', dir, '--sample-interval', '1h']);
});

test.afterEach(async () => {
  await server?.stop();
  rmSync(dir, { recursive: true, force: true });
});

async function push(points: object[]) {
  const response = await fetch(`${server.url}/api/ingest`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(points),
  });
  expect(response.status).toBe(200);
}

const editor = (page: Page) => page.getByTestId('editor');
const message = (page: Page) => page.getByTestId('editor-message');

/** Opens the editor of the dashboard the page shows. */
async function openEditor(page: Page) {
  await page.getByTestId('edit').click();
  await expect(editor(page)).toBeVisible();
  await expect(message(page)).not.toContainText('Loading');
}

/** Adds a widget of `kind` and fills its title and first selector. */
async function addWidget(page: Page, kind: string, title: string, selector?: string) {
  await page.getByTestId('editor-new-kind').selectOption(kind);
  await page.getByTestId('editor-add').click();
  const form = page.getByTestId('editor-widget-form');
  await form.getByTestId('editor-widget-title').fill(title);
  if (selector !== undefined) await form.getByTestId('editor-selector').first().fill(selector);
}

async function saveAndWait(page: Page) {
  await page.getByTestId('editor-save').click();
  await expect(message(page)).toContainText('Saved.');
}

test('a dashboard is built in the page, checked as it is typed, saved, live on a second page and kept after a reload', async ({ page, browser }) => {
  await push([
    { name: 'shop_queue_depth', value: 7 },
    { name: 'shop_sales', labels: { region: 'eu' }, value: 300 },
    { name: 'shop_sales', labels: { region: 'us' }, value: 1200 },
  ]);
  const errors: string[] = [];
  page.on('pageerror', (error) => errors.push(error.message));

  // From the home page: a new dashboard opens in its editor.
  await page.goto(server.url + '/');
  await page.getByTestId('new-dashboard-title').fill('Shop floor');
  await page.getByTestId('new-dashboard').click();
  await expect(page).toHaveURL(/\/d\/shop-floor\?edit$/);
  await expect(editor(page)).toBeVisible();
  await expect(page.getByTestId('dashboard-title')).toHaveText('Shop floor');

  // A chart: the names API offers the series as the selector is typed.
  await addWidget(page, 'timeseries', 'Queue', 'shop_q');
  const names = page.getByTestId('editor-widget-form').locator('datalist option');
  await expect(names.first()).toHaveAttribute('value', 'shop_queue_depth');
  await page.getByTestId('editor-selector').fill('shop_queue_depth');
  // The page is the preview: the chart is there before any save.
  await expect(page.getByTestId('timeseries-1-chart')).toBeVisible();

  // A stat, with a label filter picked from the labels API.
  await addWidget(page, 'stat', 'EU sales', 'shop_sales');
  await page.getByTestId('editor-filter-label').focus();
  await expect(page.getByTestId('editor-filter-label').locator('option', { hasText: 'region' })).toHaveCount(1);
  await page.getByTestId('editor-filter-label').selectOption('region');
  await expect(page.getByTestId('editor-filter-value').locator('option', { hasText: 'eu' })).toHaveCount(1);
  await page.getByTestId('editor-filter-value').selectOption('eu');
  await expect(page.getByTestId('editor-selector')).toHaveValue('shop_sales{region="eu"}');
  await page.getByTestId('editor-widget-unit').selectOption('currency');
  await expect(page.getByTestId('stat-1-value')).toHaveText('$300');

  // Bad input: a message beside the field, and no save until it is fixed.
  const title = page.getByTestId('editor-widget-form').getByTestId('editor-widget-title');
  await title.fill('');
  await expect(page.getByTestId('editor-widget-form').locator('.editor__error').first()).toHaveText('give it a title');
  await expect(title).toHaveAttribute('aria-describedby', /editor-error-/);
  await expect(page.getByTestId('editor-save')).toBeDisabled();
  // Undo: the title typed away comes back in one step.
  await page.keyboard.press('Control+z');
  await expect(title).toHaveValue('EU sales');
  await expect(page.getByTestId('editor-save')).toBeEnabled();
  const thresholds = page.getByTestId('editor-option-thresholds');
  await thresholds.fill('ninety');
  await thresholds.blur();
  await expect(page.getByTestId('editor-widget-form')).toContainText('"ninety" is not a number');
  await expect(page.getByTestId('editor-save')).toBeDisabled();
  await thresholds.fill('1000 critical');
  await thresholds.blur();
  await expect(page.getByTestId('editor-save')).toBeEnabled();
  // Undone and redone.
  await thresholds.focus();
  await page.keyboard.press('Control+z');
  await expect(thresholds).toHaveValue('');
  await page.keyboard.press('Control+Shift+z');
  await expect(thresholds).toHaveValue(/^1000(\.0)? critical$/);

  // Reordered by keyboard: the stat first, then the chart beside it.
  const items = page.getByTestId('editor-widgets').locator('li');
  await expect(items).toHaveCount(2);
  await items.nth(1).focus();
  await page.keyboard.press('Alt+ArrowUp');
  await expect(items.first()).toContainText('EU sales');
  await expect(items.first()).toBeFocused();
  // ... and back by drag.
  await items.nth(1).dragTo(items.nth(0));
  await expect(items.first()).toContainText('Queue');
  // Resized: the chart takes the whole width.
  await items.first().getByRole('button', { name: 'Queue', exact: true }).click();
  await page.getByTestId('editor-widget-width').fill('12');
  await page.getByTestId('editor-widget-width').press('Enter');

  // Saved; a second page shows it and follows the next save live.
  await saveAndWait(page);
  const file = JSON.parse(readFileSync(join(dir, 'shop-floor.json'), 'utf8'));
  expect(file.widgets.map((w: { id: string; grid: object }) => [w.id, w.grid])).toEqual([
    ['timeseries-1', { x: 0, y: 0, w: 12, h: 4 }],
    ['stat-1', { x: 0, y: 4, w: 3, h: 2 }],
  ]);
  expect(file.widgets[1].options.thresholds).toEqual([{ value: 1000, level: 'critical' }]);
  const viewer = await (await browser.newContext()).newPage();
  await viewer.goto(`${server.url}/d/shop-floor`);
  await expect(status(viewer)).toHaveAttribute('data-state', 'live');
  await expect(viewer.getByTestId('stat-1-value')).toHaveText('$300');
  await push([{ name: 'shop_sales', labels: { region: 'eu' }, value: 1500 }]);
  await expect(viewer.getByTestId('stat-1-value')).toHaveText('$1.5k');
  await expect(viewer.getByTestId('stat-1-widget')).toHaveClass(/level-critical/);
  await page.getByTestId('editor-widgets').locator('li').nth(1).getByRole('button', { name: 'EU sales', exact: true }).click();
  await title.fill('Sales in Europe');
  await saveAndWait(page);
  await expect(viewer.getByTestId('stat-1-widget').locator('h2')).toHaveText('Sales in Europe');
  await viewer.reload();
  await expect(viewer.getByTestId('stat-1-widget').locator('h2')).toHaveText('Sales in Europe');
  await expect(viewer.getByTestId('timeseries-1-chart')).toBeVisible();

  // The editor passes axe-core and fits a phone; closing it leaves the
  // saved dashboard.
  await page.setViewportSize({ width: 1280, height: 800 });
  await push([{ name: 'shop_queue_depth', value: 9 }]);
  const docs = resolve(__dirname, '../../docs');
  mkdirSync(docs, { recursive: true });
  await page.screenshot({ path: resolve(docs, 'screenshot-editor.png') });
  expect(await violations(page)).toEqual([]);
  await page.setViewportSize({ width: 360, height: 740 });
  expect((await sidewaysOverflow(page)).wide).toEqual([]);
  await page.getByTestId('editor-close').click();
  await expect(editor(page)).toHaveCount(0);
  await expect(page.getByTestId('edit')).toBeVisible();
  // Leaving the page after the editor closed: nothing of it is left to run.
  await page.goto(server.url + '/');
  await expect(page.getByTestId('dashboards')).toContainText('Shop floor');
  expect(errors).toEqual([]);
});

async function shopWith(title: string) {
  const body = {
    version: 1, id: 'shop', title, time: { range: '15m' },
    widgets: [
      { id: 'orders', type: 'stat', title: 'Orders', grid: { x: 0, y: 0, w: 3, h: 2 }, series: [{ selector: 'shop_queue_depth' }] },
      { id: 'notes', type: 'text', title: 'Notes', grid: { x: 3, y: 0, w: 3, h: 2 }, options: { markdown: 'hello' } },
    ],
  };
  const response = await fetch(`${server.url}/api/dashboards/shop`, {
    method: 'PUT', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body),
  });
  expect(response.status).toBe(201);
}

async function editorOn(browser: Browser): Promise<Page> {
  const page = await (await browser.newContext()).newPage();
  await page.goto(`${server.url}/d/shop`);
  await expect(status(page)).toHaveAttribute('data-state', 'live');
  await openEditor(page);
  return page;
}

async function retitle(page: Page, widget: string, title: string) {
  await page.getByTestId('editor-widgets').locator(`li[data-widget-id="${widget}"] .editor__widget-title`).click();
  await page.getByTestId('editor-widget-form').getByTestId('editor-widget-title').fill(title);
}

test('two editors at once: different widgets merge, the same widget is shown both ways and never overwritten', async ({ browser }) => {
  await shopWith('Shop');
  const ana = await editorOn(browser);
  const ben = await editorOn(browser);

  // Different widgets: Ana saves first; Ben's editor takes her change in
  // and his save keeps both.
  await retitle(ana, 'orders', 'Orders (Ana)');
  await retitle(ben, 'notes', 'Notes (Ben)');
  await saveAndWait(ana);
  await expect(message(ben)).toContainText('merged into yours');
  await expect(ben.getByTestId('orders-widget').locator('h2')).toHaveText('Orders (Ana)');
  await saveAndWait(ben);
  await expect(ana.getByTestId('notes-widget').locator('h2')).toHaveText('Notes (Ben)');
  let saved = await (await fetch(`${server.url}/api/dashboards/shop`)).json();
  expect(saved.widgets.map((w: { title: string }) => w.title)).toEqual(['Orders (Ana)', 'Notes (Ben)']);

  // The same widget: Ben sees both versions and chooses; nothing of Ana's
  // is lost without his choice.
  await retitle(ana, 'orders', 'Orders by Ana');
  await retitle(ben, 'orders', 'Orders by Ben');
  await saveAndWait(ana);
  const conflict = ben.getByTestId('editor-conflict');
  await expect(conflict).toBeVisible();
  await expect(conflict).toContainText('"title": "Orders by Ben"');
  await expect(conflict).toContainText('"title": "Orders by Ana"');
  await expect(ben.getByTestId('editor-save')).toBeEnabled();
  saved = await (await fetch(`${server.url}/api/dashboards/shop`)).json();
  expect(saved.widgets[0].title).toBe('Orders by Ana');
  await conflict.getByLabel('Keep yours').check();
  await ben.getByTestId('editor-settle').click();
  await expect(conflict).toHaveCount(0);
  await saveAndWait(ben);
  await expect(ana.getByTestId('orders-widget').locator('h2')).toHaveText('Orders by Ben');

  // A save the server refuses (made from an old revision, same widget):
  // the conflict view again, from the server's answer.
  const stale = await (await fetch(`${server.url}/api/dashboards/shop`)).text();
  await retitle(ana, 'orders', 'Orders, third try');
  const etag = (await fetch(`${server.url}/api/dashboards/shop`)).headers.get('etag') ?? '';
  const other = JSON.parse(stale);
  other.widgets[0].title = 'Orders via the API';
  const put = await fetch(`${server.url}/api/dashboards/shop`, {
    method: 'PUT', headers: { 'content-type': 'application/json', 'if-match': etag }, body: JSON.stringify(other),
  });
  expect(put.status).toBe(200);
  await expect(ana.getByTestId('editor-conflict')).toBeVisible();
  await expect(ana.getByTestId('editor-conflict')).toContainText('Orders via the API');
});

test('versions are listed with what restoring one changes, and one is restored; an export imported again exports the same bytes', async ({ page }) => {
  await shopWith('Shop v1');
  await page.goto(`${server.url}/d/shop`);
  await openEditor(page);
  await page.getByTestId('editor-title').fill('Shop v2');
  await saveAndWait(page);
  await page.getByRole('button', { name: 'Versions' }).click();
  const versions = page.getByTestId('editor-version');
  await expect(versions).toHaveCount(1);
  await versions.first().getByRole('button', { name: 'What restoring it changes' }).click();
  await expect(versions.first()).toContainText('title: "Shop v2" → "Shop v1"');
  await versions.first().getByTestId('editor-restore').click();
  await expect(message(page)).toContainText('Restored version 1.');
  await expect(page.getByTestId('dashboard-title')).toHaveText('Shop v1');
  await expect(page.getByTestId('editor-title')).toHaveValue('Shop v1');
  await expect(versions).toHaveCount(2);

  // Export, then import the same file (reformatted, with a new title).
  const exported = await (await fetch(`${server.url}/api/dashboards/shop`)).text();
  const href = await page.getByRole('link', { name: 'Export' }).getAttribute('href');
  expect(href).toBe('/api/dashboards/shop');
  const reformatted = JSON.parse(exported);
  reformatted.title = 'Shop imported';
  const file = join(dir, '..', `import-${Date.now()}.json`);
  writeFileSync(file, JSON.stringify(reformatted, null, 7));
  await page.getByTestId('editor-import').setInputFiles(file);
  await expect(message(page)).toContainText('Imported');
  await expect(page.getByTestId('dashboard-title')).toHaveText('Shop imported');
  await saveAndWait(page);
  const again = await (await fetch(`${server.url}/api/dashboards/shop`)).text();
  expect(again).toBe(exported.replace('"title": "Shop v1"', '"title": "Shop imported"'));
  // A file that is not a dashboard changes nothing.
  writeFileSync(file, '{"version": 1, "nonsense": true}');
  // The same file chosen again is read again.
  await page.getByTestId('editor-import').setInputFiles(file);
  await expect(message(page)).toContainText('Not imported');
  await expect(page.getByTestId('dashboard-title')).toHaveText('Shop imported');
  rmSync(file);
});

test('tabs of one browser share one connection: a save reaches both, an editor in either takes it in, and a reload of one loses nothing', async ({ browser }) => {
  await shopWith('Shop');
  const context = await browser.newContext();
  const first = await context.newPage();
  await first.goto(`${server.url}/d/shop`);
  await expect(status(first)).toHaveAttribute('data-state', 'live');
  const second = await context.newPage();
  await second.goto(`${server.url}/d/shop`);
  await expect(status(second)).toHaveAttribute('data-state', 'live');
  // One tab holds the connection; the other follows it.
  await expect
    .poll(async () => [await status(first).getAttribute('data-role'), await status(second).getAttribute('data-role')].sort())
    .toEqual(['follower', 'leader']);
  await openEditor(second);
  await retitle(second, 'notes', 'Notes (tab 2)');

  // Someone else saves through the API: both tabs show it, and the
  // editor merges it into its draft.
  const api = async (change: (d: { title: string; widgets: { title: string }[] }) => void) => {
    const current = await fetch(`${server.url}/api/dashboards/shop`);
    const etag = current.headers.get('etag') ?? '';
    const body = await current.json();
    change(body);
    const put = await fetch(`${server.url}/api/dashboards/shop`, {
      method: 'PUT', headers: { 'content-type': 'application/json', 'if-match': etag }, body: JSON.stringify(body),
    });
    expect(put.status).toBe(200);
  };
  await api((d) => (d.widgets[0].title = 'Orders (API)'));
  await expect(first.getByTestId('orders-widget').locator('h2')).toHaveText('Orders (API)');
  await expect(second.getByTestId('orders-widget').locator('h2')).toHaveText('Orders (API)');
  await expect(message(second)).toContainText('merged into yours');
  await saveAndWait(second);
  await expect(first.getByTestId('notes-widget').locator('h2')).toHaveText('Notes (tab 2)');

  // One tab reloads (it may have led the shared connection): the other
  // keeps up, and both see the next save.
  await first.reload();
  await expect(status(first)).toHaveAttribute('data-state', 'live');
  await expect
    .poll(async () => [await status(first).getAttribute('data-role'), await status(second).getAttribute('data-role')].sort())
    .toEqual(['follower', 'leader']);
  await api((d) => (d.title = 'Shop (after the reload)'));
  await expect(first.getByTestId('dashboard-title')).toHaveText('Shop (after the reload)');
  await expect(second.getByTestId('dashboard-title')).toHaveText('Shop (after the reload)');
  await expect(second.getByTestId('editor-title')).toHaveValue('Shop (after the reload)');
  await context.close();
});

test('a chart of several selectors shows each series named and rated by its own selector: in the preview, saved, after a reload and live', async ({ page }) => {
  const now = Date.now();
  // A counter by region (read as a rate: 10/s in eu, 20/s in us) and a gauge.
  await push([
    { name: 'shop_orders_total', labels: { region: 'eu' }, value: 100, ts: now - 10_000 },
    { name: 'shop_orders_total', labels: { region: 'us' }, value: 100, ts: now - 10_000 },
    { name: 'shop_orders_total', labels: { region: 'eu' }, value: 200, ts: now },
    { name: 'shop_orders_total', labels: { region: 'us' }, value: 300, ts: now },
    { name: 'shop_queue_depth', value: 7, ts: now },
  ]);
  const body = {
    version: 1, id: 'shop', title: 'Shop', time: { range: '15m' },
    widgets: [{
      id: 'flow', type: 'timeseries', title: 'Flow', grid: { x: 0, y: 0, w: 12, h: 4 },
      series: [{ selector: 'shop_queue_depth' }],
    }],
  };
  const put = await fetch(`${server.url}/api/dashboards/shop`, {
    method: 'PUT', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body),
  });
  expect(put.status).toBe(201);
  await page.goto(`${server.url}/d/shop`);
  await expect(status(page)).toHaveAttribute('data-state', 'live');
  const legend = page.getByTestId('flow-legend').locator('.legend-item');
  const shown = async () =>
    (await legend.evaluateAll((items) => items.map((i) => [
      i.querySelector('.legend-item__label')?.textContent ?? '',
      i.querySelector('.legend-item__value')?.textContent ?? '',
    ])));
  await expect.poll(shown).toEqual([['Flow', '7']]);

  // A second selector, with its own naming label and read as a rate.
  await openEditor(page);
  await page.getByTestId('editor-widgets').locator('li[data-widget-id="flow"] .editor__widget-title').click();
  await page.getByTestId('editor-add-series').click();
  const second = page.getByTestId('editor-series-row').nth(1);
  await second.getByTestId('editor-selector').fill('shop_orders_total');
  await second.getByLabel('Name each series by label').fill('region');
  await second.getByLabel('Per second').check();
  // Of several selectors, the one without a naming label is called by its key.
  const expected = [['shop_queue_depth', '7'], ['region eu', '10'], ['region us', '20']];
  await expect.poll(shown).toEqual(expected);
  await saveAndWait(page);
  const file = JSON.parse(readFileSync(join(dir, 'shop.json'), 'utf8'));
  expect(file.widgets[0].series).toEqual([
    { selector: 'shop_queue_depth' },
    { selector: 'shop_orders_total', label_by: 'region', rate: true },
  ]);
  // The server renders both selectors' series, then the page goes on live:
  // the counter's samples become rates (its first live one seeds the
  // rate), the gauge's are values.
  await page.reload();
  await expect(status(page)).toHaveAttribute('data-state', 'live');
  await expect.poll(shown).toEqual(expected);
  await push([
    { name: 'shop_orders_total', labels: { region: 'eu' }, value: 600, ts: now + 10_000 },
    { name: 'shop_orders_total', labels: { region: 'eu' }, value: 1000, ts: now + 20_000 },
    { name: 'shop_queue_depth', value: 9, ts: now + 10_000 },
  ]);
  await expect.poll(shown).toEqual([['shop_queue_depth', '9'], ['region eu', '40'], ['region us', '20']]);
});

test('a late answer for an earlier prefix never replaces the names offered for what was typed', async ({ page }) => {
  await push([
    { name: 'shop_queue_depth', value: 7 },
    { name: 'aaa_first', value: 1 },
  ]);
  // The answer for the empty prefix (asked when the field takes focus)
  // comes back after the one for what is typed next.
  const emptyPrefix = /\/api\/series\/names\?prefix=$/;
  await page.route(emptyPrefix, async (route) => {
    await new Promise((r) => setTimeout(r, 800));
    await route.continue();
  });
  await page.goto(server.url + '/');
  await page.getByTestId('new-dashboard-title').fill('Race');
  await page.getByTestId('new-dashboard').click();
  await expect(editor(page)).toBeVisible();
  await page.getByTestId('editor-new-kind').selectOption('timeseries');
  await page.getByTestId('editor-add').click();
  const selector = page.getByTestId('editor-widget-form').getByTestId('editor-selector').first();
  const late = page.waitForResponse((r) => emptyPrefix.test(r.url()));
  await selector.focus();
  await selector.pressSequentially('shop_q');
  const names = page.getByTestId('editor-widget-form').locator('datalist option');
  await expect(names.first()).toHaveAttribute('value', 'shop_queue_depth');
  // The late answer has come, and the page has had two frames to take it.
  await late;
  await page.evaluate(() => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r))));
  await expect(names).toHaveCount(1);
  await expect(names.first()).toHaveAttribute('value', 'shop_queue_depth');
});
