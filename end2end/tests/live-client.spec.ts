// The browser's live client against the real server: exactly-once delivery
// through broken connections and restarts, fallback to polling, memoized
// widgets, pause and resume, and offline/online.
import { test, expect, Locator } from '@playwright/test';
import { Livedash } from './support/server';
import { status, feed, feedSeqs } from './support/page';
import { CuttableProxy } from './support/proxy';

async function renders(locator: Locator): Promise<number> {
  return Number(await locator.getAttribute('data-renders'));
}

for (const transport of ['sse', 'ws', 'poll'] as const) {
  test(`over ${transport}, every event arrives once and in order through cut connections and a server restart`, async ({
    page,
  }) => {
    const server = await Livedash.start(['--heartbeat-interval', '2s']);
    const proxy = await CuttableProxy.start(server.port);
    try {
      await page.goto(`${proxy.url}/?transport=${transport}`);
      await expect(status(page)).toHaveAttribute('data-state', 'live');
      await expect(status(page)).toHaveAttribute('data-transport', transport);

      const total = 40;
      for (let seq = 0; seq < total; seq += 1) {
        await server.publish([{ seq }]);
        if (seq % 10 === 5) proxy.cut();
        await new Promise((r) => setTimeout(r, 25));
      }
      await expect(feed(page)).toHaveAttribute('data-count', String(total), { timeout: 30_000 });
      expect(await feedSeqs(page)).toEqual([...Array(total).keys()]);
      expect(proxy.cuts).toBe(4);

      // A crash and a restart: a new epoch, so the page must take a reset.
      const before = await status(page).getAttribute('data-position');
      await server.kill();
      await server.restart();
      await expect(status(page)).toHaveAttribute('data-state', 'live', { timeout: 30_000 });
      await expect
        .poll(async () => (await status(page).getAttribute('data-position'))?.split('-')[0], { timeout: 30_000 })
        .not.toBe(before?.split('-')[0]);
      await server.publish([{ seq: 100 }, { seq: 101 }, { seq: 102 }]);
      await expect.poll(() => feedSeqs(page), { timeout: 15_000 }).toEqual([100, 101, 102]);
      await expect(page.getByTestId('cpu-total-value')).toHaveText(/^\d+(\.\d)?%$/);
    } finally {
      await proxy.close();
      await server.stop();
    }
  });
}

test('with SSE blocked the page falls back to polling, says so, and keeps updating', async ({ page }) => {
  const server = await Livedash.start(['--heartbeat-interval', '2s']);
  try {
    await page.route('**/api/realtime/sse**', (route) => route.abort());
    await page.goto(server.url + '/');
    await expect(status(page)).toHaveAttribute('data-transport', 'poll', { timeout: 20_000 });
    await expect(status(page)).toHaveAttribute('data-state', 'live');
    await expect(status(page)).toContainText('polling');
    await server.publish([{ seq: 1 }, { seq: 2 }]);
    await expect.poll(() => feedSeqs(page), { timeout: 10_000 }).toEqual([1, 2]);
  } finally {
    await server.stop();
  }
});

test('an update re-renders only the widget whose data changed', async ({ page }) => {
  const server = await Livedash.start(['--sample-interval', '1h']);
  try {
    await page.goto(server.url + '/');
    await expect(status(page)).toHaveAttribute('data-state', 'live');
    await server.publish([
      { event: 'patch', data: { op: 'add', key: 'api', value: 'up' } },
      { event: 'patch', data: { op: 'add', key: 'db', value: 'up' } },
    ]);
    const api = page.getByTestId('board-item-api');
    const db = page.getByTestId('board-item-db');
    await expect(db).toContainText('up');
    const others = ['cpu-total-widget', 'memory-used-widget', 'load-widget', 'network-in-widget', 'cpu-chart-card', 'activity-feed', 'status-board'];
    const before = await Promise.all(others.map((id) => renders(page.getByTestId(id))));
    const apiBefore = await renders(api);
    const dbBefore = await renders(db);

    await server.publish([{ event: 'patch', data: { op: 'replace', key: 'api', value: 'degraded' } }]);
    await expect(api).toContainText('degraded');
    expect(await renders(api)).toBe(apiBefore + 1);
    expect(await renders(db)).toBe(dbBefore);
    expect(await Promise.all(others.map((id) => renders(page.getByTestId(id))))).toEqual(before);

    await server.publish([{ event: 'patch', data: { op: 'remove', key: 'db' } }]);
    await expect(db).toHaveCount(0);
  } finally {
    await server.stop();
  }
});

test('pause freezes the display and resume catches up', async ({ page }) => {
  const server = await Livedash.start();
  try {
    await page.goto(server.url + '/');
    await expect(status(page)).toHaveAttribute('data-state', 'live');
    await server.publish([{ seq: 1 }]);
    await expect(feed(page)).toHaveAttribute('data-count', '1');

    await page.getByTestId('pause').click();
    await expect(page.getByTestId('pause')).toHaveText('Resume');
    const cpu = await page.getByTestId('cpu-total-value').textContent();
    await server.publish([{ seq: 2 }, { seq: 3 }, { seq: 4 }]);
    await page.waitForTimeout(1_500);
    await expect(feed(page)).toHaveAttribute('data-count', '1');
    expect(await feedSeqs(page)).toEqual([1]);
    await expect(page.getByTestId('cpu-total-value')).toHaveText(cpu ?? '');

    await page.getByTestId('pause').click();
    await expect(feed(page)).toHaveAttribute('data-count', '4', { timeout: 2_000 });
    expect(await feedSeqs(page)).toEqual([1, 2, 3, 4]);
  } finally {
    await server.stop();
  }
});

test('after going offline and online the client reconnects at once', async ({ page, context }) => {
  const server = await Livedash.start();
  try {
    await page.goto(server.url + '/');
    await expect(status(page)).toHaveAttribute('data-state', 'live');
    await context.setOffline(true);
    await expect(status(page)).toHaveAttribute('data-state', 'offline', { timeout: 3_000 });
    await server.publish([{ seq: 7 }]);
    await context.setOffline(false);
    await expect(status(page)).toHaveAttribute('data-state', 'live', { timeout: 2_000 });
    await expect.poll(() => feedSeqs(page), { timeout: 5_000 }).toEqual([7]);
  } finally {
    await server.stop();
  }
});

test('after the configured number of failures the page shows failed, and Reconnect brings it back', async ({ page }) => {
  const server = await Livedash.start([
    '--reconnect-base', '300ms',
    '--reconnect-cap', '600ms',
    '--reconnect-max-failures', '3',
  ]);
  try {
    await page.goto(server.url + '/');
    await expect(status(page)).toHaveAttribute('data-state', 'live');
    await server.kill();
    await expect(status(page)).toHaveAttribute('data-state', 'reconnecting', { timeout: 5_000 });
    await expect(status(page)).toContainText(/Reconnecting in \d+ s \(attempt \d\)/);
    await expect(status(page)).toHaveAttribute('data-state', 'failed', { timeout: 15_000 });
    await expect(page.getByTestId('reconnect')).toBeEnabled();

    await server.restart();
    // Given up: the page does not come back on its own...
    await page.waitForTimeout(1_500);
    await expect(status(page)).toHaveAttribute('data-state', 'failed');
    // ...but at once when asked.
    await page.getByTestId('reconnect').click();
    await expect(status(page)).toHaveAttribute('data-state', 'live', { timeout: 5_000 });
    await server.publish([{ seq: 1 }]);
    await expect.poll(() => feedSeqs(page)).toEqual([1]);
  } finally {
    await server.stop();
  }
});
