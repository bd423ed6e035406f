// The CPU chart is one series from one model: a page loads with the last
// minute of the host's CPU series from the metrics store already in it,
// then the same series goes on live from where that history ended, with no
// hole and no point twice; after a reconnect and after a reload too.
// The chart exposes its extent as data attributes (Unix ms), so these
// tests assert on timestamps, not pixels.
import { test, expect, Page } from '@playwright/test';
import { Livedash } from './support/server';
import { status, chartExtent, ChartExtent } from './support/page';

const INTERVAL = 500;
/** A missing sample leaves a gap of two intervals; jitter stays well below. */
const MAX_GAP = INTERVAL * 1.5;

/** The time of the newest point of the host's total CPU use in the store. */
async function storedNewest(server: Livedash): Promise<number> {
  const selector = encodeURIComponent('livedash_host_cpu_percent{core=""}');
  const reply = await (await fetch(`${server.url}/api/series?match=${selector}`)).json();
  const points: [number, number][] = reply.series[0]?.points ?? [];
  return points.length ? points[points.length - 1][0] : 0;
}

/** The largest gap between the store's own samples of the total from `from` to `to`. */
async function storedMaxGap(server: Livedash, from: number, to: number): Promise<number> {
  const selector = encodeURIComponent('livedash_host_cpu_percent{core=""}');
  const reply = await (await fetch(`${server.url}/api/series?match=${selector}&from=${from}&to=${to}`)).json();
  const points: [number, number][] = reply.series[0]?.points ?? [];
  return points.reduce((gap, [ts], i) => (i ? Math.max(gap, ts - points[i - 1][0]) : gap), 0);
}

/** No hole, and no more points than there are sample times. A hole's
 * message says whether the store has it too (then the sampler missed a
 * tick: the page showed what there is) or only the page. */
async function expectSeamless(server: Livedash, extent: ChartExtent) {
  expect(extent.maxGap, JSON.stringify(extent)).toBeGreaterThan(0);
  if (extent.maxGap >= MAX_GAP) {
    const stored = await storedMaxGap(server, extent.oldest, extent.newest);
    expect(extent.maxGap, `${JSON.stringify(extent)}; the store's largest gap there: ${stored} ms`).toBeLessThan(MAX_GAP);
  }
  expect(extent.points, JSON.stringify(extent)).toBeLessThanOrEqual(
    Math.round((extent.newest - extent.oldest) / INTERVAL) + 1,
  );
}

/** The chart holds the last minute from the moment the page is served. */
async function expectAMinuteOfHistory(server: Livedash, page: Page) {
  const extent = await chartExtent(page);
  const now = Date.now();
  expect(extent.points, JSON.stringify(extent)).toBeGreaterThan(100);
  expect(extent.oldest, JSON.stringify(extent)).toBeLessThan(now - 55_000);
  expect(extent.oldest, JSON.stringify(extent)).toBeGreaterThan(now - 65_000);
  await expectSeamless(server, extent);
  return extent;
}

/** The newest point moves on by `ms` and the whole window stays seamless. */
async function expectLiveFor(server: Livedash, page: Page, from: ChartExtent, ms: number) {
  await expect
    .poll(async () => (await chartExtent(page)).newest, { timeout: ms + 5_000 })
    .toBeGreaterThan(from.newest + ms);
  await expectSeamless(server, await chartExtent(page));
}

test('the chart loads with the last minute from the store and goes on live with no seam, after a reconnect and a reload', async ({
  page,
  context,
}) => {
  test.setTimeout(150_000);
  const server = await Livedash.start(['--sample-interval', `${INTERVAL}ms`]);
  try {
    // History needs time: wait until the server has sampled for a minute.
    await expect
      .poll(async () => (await (await fetch(`${server.url}/healthz`)).json()).uptime_s, {
        timeout: 80_000,
        intervals: [1_000],
      })
      .toBeGreaterThanOrEqual(62);

    // Served with the history: the attributes are in the HTML itself.
    const html = await (await fetch(server.url + '/')).text();
    const served = Number(/data-points="(\d+)"/.exec(html)?.[1]);
    expect(served).toBeGreaterThan(100);

    await page.goto(server.url + '/');
    const loaded = await expectAMinuteOfHistory(server, page);
    await expect(status(page)).toHaveAttribute('data-state', 'live');
    await expectLiveFor(server, page, loaded, 3_000);

    // A reconnect resumes from the page's position: what was stored
    // meanwhile arrives, nothing twice.
    await context.setOffline(true);
    await expect(status(page)).toHaveAttribute('data-state', 'offline', { timeout: 3_000 });
    const offline = await chartExtent(page);
    await expect.poll(() => storedNewest(server), { intervals: [250] }).toBeGreaterThan(offline.newest + 2_000);
    await context.setOffline(false);
    await expect(status(page)).toHaveAttribute('data-state', 'live', { timeout: 5_000 });
    await expectLiveFor(server, page, offline, 3_000);

    // A reload starts from the store again: the minute is still there.
    await page.reload();
    const reloaded = await expectAMinuteOfHistory(server, page);
    expect(reloaded.newest).toBeGreaterThan(offline.newest);
    await expect(status(page)).toHaveAttribute('data-state', 'live');
    await expectLiveFor(server, page, reloaded, 2_000);
  } finally {
    await server.stop();
  }
});

test('after a disconnect longer than the live log reaches back, the chart reads the hole from the store and has none', async ({
  page,
  context,
}) => {
  test.setTimeout(90_000);
  // A log of 60 events holds about two samples of this host: an outage of
  // a few seconds is past what a resume can replay, so the server answers
  // the reconnect with a reset (the newest events only).
  const server = await Livedash.start(['--sample-interval', `${INTERVAL}ms`, '--history-events', '60']);
  try {
    await expect
      .poll(async () => (await (await fetch(`${server.url}/healthz`)).json()).uptime_s, { timeout: 30_000 })
      .toBeGreaterThanOrEqual(8);
    await page.goto(server.url + '/');
    await expect(status(page)).toHaveAttribute('data-state', 'live');
    const loaded = await chartExtent(page);
    expect(loaded.points).toBeGreaterThan(10);

    await context.setOffline(true);
    await expect(status(page)).toHaveAttribute('data-state', 'offline', { timeout: 3_000 });
    const offline = await chartExtent(page);
    await expect.poll(() => storedNewest(server), { intervals: [250] }).toBeGreaterThan(offline.newest + 5_000);
    const resets = async () => {
      const text = await (await fetch(`${server.url}/metrics`)).text();
      return Number(/^livedash_resets_total(?:\{[^}]*\})? (\d+)/m.exec(text)?.[1] ?? 0);
    };
    const resetsBefore = await resets();
    await context.setOffline(false);
    // The first attempt back online can fail (the network just changed):
    // the page backs off and tries again, so this may take a few seconds.
    await expect.poll(resets, { timeout: 20_000 }).toBeGreaterThan(resetsBefore);
    await expect(status(page)).toHaveAttribute('data-state', 'live', { timeout: 10_000 });

    // The outage's samples come from the store, then live goes on.
    await expect
      .poll(async () => (await chartExtent(page)).maxGap, { timeout: 15_000 })
      .toBeLessThan(MAX_GAP);
    await expectLiveFor(server, page, offline, 6_000);
  } finally {
    await server.stop();
  }
});
