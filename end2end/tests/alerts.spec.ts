// Alerts in the page: an ingested spike raises an alert that every open
// page shows within a second (the header's badge, the panel, a spoken
// announcement); acknowledging it on one page updates the other live; a
// silence and the resolution reach both; an alert addressed to a named
// viewer notifies that viewer's page only; the browser's notification
// permission is asked from a button, never on load; a chart marks the
// periods its series fired.
import * as os from 'node:os';
import { test, expect, Page, Browser } from '@playwright/test';
import { Livedash } from './support/server';
import { status, sidewaysOverflow, hoverCpuAt } from './support/page';
import { violations } from './support/axe';

let server: Livedash;

test.beforeEach(async () => {
  server = await Livedash.start(['--sample-interval', '1h']);
});

test.afterEach(async () => {
  await server?.stop();
});

async function api(method: string, path: string, body?: object) {
  const response = await fetch(`${server.url}${path}`, {
    method,
    headers: { 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return response;
}

async function ingest(value: number, host = 'web-1') {
  const response = await api('POST', '/api/ingest', [{ name: 'shop_load', labels: { host }, value }]);
  expect(response.status).toBe(200);
}

/** A page of its own browser context, live, with `name` chosen (if any),
 * counting the browser notifications it shows and the permission asks. */
async function open(browser: Browser, name?: string): Promise<Page> {
  const context = await browser.newContext();
  await context.addInitScript((name) => {
    if (name) localStorage.setItem('livedash-name', name);
    const w = window as unknown as { __shown: string[]; __asked: number };
    w.__shown = [];
    w.__asked = 0;
    const Real = window.Notification;
    class Counted extends Real {
      constructor(title: string, options?: NotificationOptions) {
        super(title, options);
        w.__shown.push(title);
      }
      static requestPermission() {
        w.__asked += 1;
        return Real.requestPermission();
      }
    }
    Object.defineProperty(window, 'Notification', { value: Counted, configurable: true, writable: true });
  }, name ?? '');
  const page = await context.newPage();
  await page.goto(server.url + '/');
  await expect(status(page)).toHaveAttribute('data-state', 'live');
  // The panel's code has come: it says nothing is firing.
  await page.getByTestId('alerts-badge').click();
  await expect(page.getByTestId('alerts-panel')).toContainText(/Nothing is firing|firing/);
  await page.getByTestId('alerts-badge').click();
  return page;
}

const shown = (page: Page) => page.evaluate(() => (window as unknown as { __shown: string[] }).__shown);
const asked = (page: Page) => page.evaluate(() => (window as unknown as { __asked: number }).__asked);

test('a spike raises an alert on every open page; acknowledging, silencing and resolving it reach the other page live', async ({ browser }) => {
  const rule = {
    id: 'load-high', selector: 'shop_load',
    condition: { type: 'above', warning: 80, critical: 95 },
    message: 'load {{value}} on {{labels.host}}',
  };
  expect((await api('PUT', '/api/alerts/rules/load-high', rule)).status).toBe(201);
  const ana = await open(browser, 'Ana');
  const ben = await open(browser);
  for (const page of [ana, ben]) await expect(page.getByTestId('alerts-badge')).toHaveText('No alerts');
  expect(await asked(ana), 'no permission asked on load').toBe(0);

  // The spike: both badges within a second, and a spoken announcement.
  const before = Date.now();
  await ingest(99);
  await expect(ana.getByTestId('alerts-badge')).toHaveText('1 firing', { timeout: 1_000 });
  await expect(ben.getByTestId('alerts-badge')).toHaveText('1 firing', { timeout: 1_000 });
  expect(Date.now() - before).toBeLessThan(2_000);
  await expect(ana.getByTestId('alerts-badge')).toHaveClass(/alerts-badge--critical/);
  await expect(ana.getByTestId('alerts-announce')).toHaveText('Critical alert: load 99 on web-1');

  // The panel lists it, and the history says how it got there.
  await ana.getByTestId('alerts-badge').click();
  await ben.getByTestId('alerts-badge').click();
  const alertOf = (page: Page) => page.getByTestId('alerts-list').getByTestId('alert');
  await expect(alertOf(ana)).toHaveCount(1);
  await expect(alertOf(ana)).toContainText('Critical');
  await expect(alertOf(ana)).toContainText('load 99 on web-1');
  await expect(ana.getByTestId('alerts-history')).toContainText('load-high shop_load{host="web-1"} → firing (critical)');

  // Ana acknowledges; Ben's panel shows it without a reload.
  await alertOf(ana).getByTestId('alert-ack-open').click();
  await expect(alertOf(ana).getByTestId('alert-ack-name')).toHaveValue('Ana');
  await alertOf(ana).getByTestId('alert-ack-comment').fill('restarting the worker');
  await alertOf(ana).getByTestId('alert-ack-send').click();
  await expect(alertOf(ben).getByTestId('alert-ack')).toHaveText('Acknowledged by Ana: restarting the worker');

  // The panel is accessible and fits a phone.
  expect(await violations(ana)).toEqual([]);
  await ana.setViewportSize({ width: 360, height: 740 });
  expect((await sidewaysOverflow(ana)).wide).toEqual([]);
  await ana.setViewportSize({ width: 1280, height: 800 });

  // Silenced from Ben's page, this alert for 4 hours: marked and listed on
  // Ana's page; ended from Ana's, gone from Ben's.
  await alertOf(ben).getByTestId('alert-silence').click();
  await alertOf(ben).getByTestId('alert-silence-for').selectOption('4h');
  await alertOf(ben).getByTestId('alert-silence-comment').fill('migrating');
  await alertOf(ben).getByTestId('alert-silence-send').click();
  await expect(alertOf(ana)).toContainText('silenced');
  const silenceOf = (page: Page) => page.getByTestId('silences').getByTestId('silence');
  await expect(silenceOf(ana)).toHaveCount(1);
  await expect(silenceOf(ana)).toContainText('rule load-high, host=web-1 until');
  await expect(silenceOf(ana)).toContainText(': migrating');
  expect(await violations(ana), 'the silences list and form pass axe').toEqual([]);
  const { silences } = await (await api('GET', '/api/alerts')).json();
  expect(silences).toHaveLength(1);
  expect(silences[0].labels).toEqual({ host: 'web-1' });
  expect(silences[0].ends_at - Date.now()).toBeGreaterThan(4 * 3_600_000 - 60_000);
  expect(silences[0].ends_at - Date.now()).toBeLessThan(4 * 3_600_000 + 60_000);
  await silenceOf(ana).getByTestId('silence-end').click();
  await expect(silenceOf(ben)).toHaveCount(0);
  await expect(alertOf(ben)).not.toContainText('silenced');
  // The whole rule, for the default hour.
  await alertOf(ben).getByTestId('alert-silence').click();
  await alertOf(ben).getByTestId('alert-silence-scope').selectOption('rule');
  await alertOf(ben).getByTestId('alert-silence-send').click();
  await expect(silenceOf(ana)).toHaveText(/^rule load-high until [^,]*End$/);
  await expect(alertOf(ana)).toContainText('silenced');

  // Resolved: gone from both, and in the history.
  await ingest(10);
  for (const page of [ana, ben]) {
    await expect(page.getByTestId('alerts-badge')).toHaveText('No alerts');
    await expect(alertOf(page)).toHaveCount(0);
    await expect(page.getByTestId('alerts-history')).toContainText('→ resolved');
  }

  // A reload shows the same history, read from the server.
  await ben.reload();
  await expect(status(ben)).toHaveAttribute('data-state', 'live');
  await ben.getByTestId('alerts-badge').click();
  await expect(ben.getByTestId('alerts-history')).toContainText('→ resolved');
  await expect(ben.getByTestId('alerts-history')).toContainText('→ firing (critical)');
});

test('a chart of series that have rules draws the rules\' lines', async ({ page }) => {
  // Levels no CPU reading reaches: the host's own sample (taken when the
  // server started, on a machine that may be busy) never fires this rule.
  const rule = {
    id: 'cpu-high', selector: 'livedash_host_cpu_percent',
    condition: { type: 'above', warning: 190, critical: 197 },
  };
  expect((await api('PUT', '/api/alerts/rules/cpu-high', rule)).status).toBe(201);
  await page.goto(server.url + '/');
  await expect(status(page)).toHaveAttribute('data-state', 'live');
  const lines = page.getByTestId('cpu-thresholds');
  await expect(lines).toContainText('cpu-high warning');
  await expect(lines).toContainText('cpu-high critical');
  // The chart's value axis reaches them, even with the CPU far below.
  await expect.poll(async () => Number(await page.getByTestId('cpu-chart').getAttribute('data-value-max'))).toBeGreaterThanOrEqual(197);
});

test('a chart draws the periods its series fired, live, with the alert in its tooltip, and again after a reload', async ({ page }) => {
  // A core of the chart's own host that only this test writes: the host's
  // real CPU, however busy the machine is, never fires the rule.
  const rule = {
    id: 'cpu-high', selector: 'livedash_host_cpu_percent{core="e2e"}',
    condition: { type: 'above', warning: 90, critical: 97 },
    message: 'CPU at {{value}}%',
  };
  expect((await api('PUT', '/api/alerts/rules/cpu-high', rule)).status).toBe(201);
  const now = Math.floor(Date.now() / 1000) * 1000;
  // A fixed window, so times stay put under the pointer.
  const range = `?from=${new Date(now - 50_000).toISOString()}&to=${new Date(now + 30_000).toISOString()}`;
  await page.goto(server.url + '/' + range);
  await expect(status(page)).toHaveAttribute('data-state', 'live');
  const chart = page.getByTestId('cpu-chart');
  await expect(chart).toHaveAttribute('data-marks', '0');
  const cpu = async (value: number) => {
    const points = [{ name: 'livedash_host_cpu_percent', labels: { host: os.hostname(), core: 'e2e' }, value }];
    expect((await api('POST', '/api/ingest', points)).status).toBe(200);
  };
  const period = async () => {
    const listed = await (await api('GET', '/api/annotations?dashboard=main')).json();
    const periods = listed.annotations.filter((n: { widget: string }) => n.widget === 'cpu');
    expect(periods).toHaveLength(1);
    return periods[0] as { time: number; end: number; text: string; level: string };
  };

  // Fired: a band from the firing on, the alert named in the tooltip.
  await cpu(99);
  await expect(chart).toHaveAttribute('data-marks', '1');
  const open = await period();
  expect(open.level).toBe('critical');
  await hoverCpuAt(chart, open.time + 5_000);
  await expect(page.getByTestId('cpu-tooltip')).toContainText('Alert cpu-high critical: CPU at 99%');

  // Resolved: the same band, closed, says so.
  await cpu(10);
  await expect.poll(async () => (await period()).text).toContain('(resolved)');
  const closed = await period();
  expect(closed.time).toBe(open.time);
  await hoverCpuAt(chart, (closed.time + closed.end) / 2);
  await expect(page.getByTestId('cpu-tooltip')).toContainText('Alert cpu-high critical (resolved)');
  await expect(chart).toHaveAttribute('data-marks', '1');

  // A reload reads it from the alerts' history.
  await page.reload();
  await expect(status(page)).toHaveAttribute('data-state', 'live');
  await expect(chart).toHaveAttribute('data-marks', '1');
  await hoverCpuAt(chart, (closed.time + closed.end) / 2);
  await expect(page.getByTestId('cpu-tooltip')).toContainText('Alert cpu-high critical (resolved)');
});

test('an alert addressed to a named viewer notifies that viewer only, and browser notifications are asked for from a button', async ({ browser }) => {
  const rule = {
    id: 'for-ana', selector: 'shop_load',
    condition: { type: 'above', critical: 90 },
    message: 'load {{value}}',
    notify: ['Ana'],
  };
  expect((await api('PUT', '/api/alerts/rules/for-ana', rule)).status).toBe(201);
  const ana = await open(browser, 'Ana');
  const ben = await open(browser, 'Ben');
  await ana.context().grantPermissions(['notifications']);

  // Ben's page offers notifications from a button, and asks only then.
  await ben.getByTestId('alerts-badge').click();
  await expect(ben.getByTestId('alerts-notify')).toBeVisible();
  expect(await asked(ben)).toBe(0);
  await ben.getByTestId('alerts-notify').click();
  await expect.poll(() => asked(ben)).toBe(1);

  await ingest(97);
  // Both see the alert; only Ana's page announces it and shows a
  // notification.
  await expect(ben.getByTestId('alerts-badge')).toHaveText('1 firing');
  await expect(ana.getByTestId('alerts-badge')).toHaveText('1 firing');
  await expect(ana.getByTestId('alerts-announce')).toHaveText('Critical alert: load 97');
  await expect.poll(() => shown(ana)).toEqual(['Critical: for-ana']);
  await ingest(50);
  await expect(ben.getByTestId('alerts-badge')).toHaveText('No alerts');
  expect(await ben.getByTestId('alerts-announce').textContent()).toBe('');
  expect(await shown(ben)).toEqual([]);
});
