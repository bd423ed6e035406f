// Measurement, not a test: a dashboard of 50 widgets (25 stats and 25
// charts, each over its own series with a minute of history): its first
// paint, and its frames while 2,000 points a second are ingested into its
// series (40 a second each). Run with
// `npx playwright test --config bench/playwright.config.ts dashboard-50`.
import { test } from '@playwright/test';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Livedash } from '../tests/support/server';

const WIDGETS = 50;

function dashboard() {
  const widgets = Array.from({ length: WIDGETS }, (_, i) => {
    const chart = i % 2 === 1;
    return {
      id: `w${i}`,
      type: chart ? 'timeseries' : 'stat',
      title: `Series ${i}`,
      // Six columns of two-wide widgets; a chart three rows high.
      grid: { x: (i % 6) * 2, y: Math.floor(i / 6) * 3, w: 2, h: 3 },
      series: [{ selector: `bench_value{n="${i}"}` }],
      unit: 'count',
    };
  });
  return { version: 1, id: 'bench', title: 'Fifty widgets', time: { range: '1m' }, widgets };
}

async function ingest(server: Livedash, points: object[]) {
  const response = await fetch(`${server.url}/api/ingest`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(points),
  });
  if (!response.ok) throw new Error(`ingest: ${response.status} ${await response.text()}`);
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const p95 = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length * 0.95)];

test('a 50-widget dashboard: first paint, and frames at 2,000 points a second', async ({ page }) => {
  test.setTimeout(240_000);
  const dir = mkdtempSync(join(tmpdir(), 'livedash-bench-'));
  const server = await Livedash.start(['--dashboards-dir', dir, '--sample-interval', '1h']);
  try {
    const put = await fetch(`${server.url}/api/dashboards/bench`, {
      method: 'PUT',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(dashboard()),
    });
    if (!put.ok) throw new Error(`PUT: ${put.status} ${await put.text()}`);
    const now = Date.now();
    const history = [];
    for (let i = 0; i < WIDGETS; i += 1) {
      for (let s = 60; s >= 1; s -= 1) {
        history.push({ name: 'bench_value', labels: { n: String(i) }, value: Math.sin(s / 5 + i) * 50 + 50, ts: now - s * 1_000 });
      }
    }
    await ingest(server, history);

    // First paint and live, five loads.
    const paints: number[] = [];
    const lives: number[] = [];
    for (let run = 0; run < 5; run += 1) {
      const started = Date.now();
      await page.goto(`${server.url}/d/bench`);
      await page.getByTestId('connection-status').and(page.locator('[data-state="live"]')).waitFor();
      lives.push(Date.now() - started);
      paints.push(
        await page.evaluate(
          () => performance.getEntriesByName('first-contentful-paint')[0]?.startTime ?? NaN,
        ),
      );
    }
    const html = await (await fetch(`${server.url}/d/bench`)).text();
    console.log(
      `first contentful paint median ${median(paints).toFixed(0)} ms (${paints.map((p) => p.toFixed(0)).join(', ')}); ` +
        `live (hydrated, connected) median ${median(lives)} ms; HTML ${html.length} bytes`,
    );

    // Frames while 2,000 points a second arrive for 10 s.
    const frames = page.evaluate(
      () =>
        new Promise<number[]>((resolve) => {
          const gaps: number[] = [];
          let last = performance.now();
          const start = last;
          const tick = (t: number) => {
            gaps.push(t - last);
            last = t;
            if (t - start < 10_000) requestAnimationFrame(tick);
            else resolve(gaps);
          };
          requestAnimationFrame(tick);
        }),
    );
    const started = Date.now();
    let sent = 0;
    // Each series' samples go forward in time: a batch holds two of each.
    let clock = started;
    while (Date.now() - started < 10_000) {
      clock = Math.max(clock + 2, Date.now());
      const batch = Array.from({ length: 100 }, (_, k) => ({
        name: 'bench_value',
        labels: { n: String(k % WIDGETS) },
        value: Math.random() * 100,
        ts: clock + Math.floor(k / WIDGETS),
      }));
      await ingest(server, batch);
      sent += batch.length;
      const next = started + (sent / 2_000) * 1_000;
      await new Promise((r) => setTimeout(r, Math.max(0, next - Date.now())));
    }
    const gaps = await frames;
    console.log(
      `${sent} points in ${((Date.now() - started) / 1000).toFixed(1)} s: ${gaps.length} frames, ` +
        `interval median ${median(gaps).toFixed(1)} ms, p95 ${p95(gaps).toFixed(1)} ms`,
    );
  } finally {
    await server.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});
