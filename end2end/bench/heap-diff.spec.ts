// Measurement, not a test: which JavaScript objects a dashboard page
// accumulates while it runs. Two heap snapshots (CDP HeapProfiler, after a
// forced collection) of a 50-widget dashboard taking 2,000 points a
// second, `LIVEDASH_HEAP_MINUTES` apart (default 3); prints the object
// kinds whose count or size grew most, and a line a minute with the JS
// heap (after a forced collection) and the DOM nodes. Run with
// `npx playwright test --config bench/playwright.config.ts heap-diff`.
// With a page built by `cargo leptos build --release --lib-features
// heap-count` the line also holds the Rust heap's count and the WASM
// memory. `LIVEDASH_HEAP_KIND=charts` makes every widget a chart (default:
// stats and charts in turn), `LIVEDASH_HEAP_RATE` sets the points a
// second into all of them (default 2,000), `LIVEDASH_HEAP_RANGE` the
// dashboard's live range (default 1m).
import { test } from '@playwright/test';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Livedash } from '../tests/support/server';

const WIDGETS = 50;
const MINUTES = Number(process.env.LIVEDASH_HEAP_MINUTES ?? '3');
// Seconds before the first snapshot: the page's bounded buffers (a
// minute of points per line, two of samples to replay) fill in this time.
const WARM_UP_S = Number(process.env.LIVEDASH_HEAP_WARM_UP_S ?? '150');
const CHARTS_ONLY = process.env.LIVEDASH_HEAP_KIND === 'charts';
const RATE = Number(process.env.LIVEDASH_HEAP_RATE ?? '2000');
const RANGE = process.env.LIVEDASH_HEAP_RANGE ?? '1m';
// Points a request, and requests a second: at least one point a series.
const PER_BATCH = Math.max(WIDGETS, Math.round(RATE / 20));
const BATCH_GAP_MS = (1_000 * PER_BATCH) / RATE;

interface Snapshot {
  snapshot: { meta: { node_fields: string[]; node_types: (string | string[])[] } };
  nodes: number[];
  strings: string[];
}

/** Count and bytes per object kind (`type:name`). */
function census(raw: string): Map<string, { count: number; bytes: number }> {
  const snap: Snapshot = JSON.parse(raw);
  const fields = snap.snapshot.meta.node_fields;
  const types = snap.snapshot.meta.node_types[0] as string[];
  const width = fields.length;
  const [typeAt, nameAt, sizeAt] = ['type', 'name', 'self_size'].map((f) => fields.indexOf(f));
  const kinds = new Map<string, { count: number; bytes: number }>();
  for (let i = 0; i < snap.nodes.length; i += width) {
    const type = types[snap.nodes[i + typeAt]];
    let name = snap.strings[snap.nodes[i + nameAt]] ?? '';
    if (type === 'string' || type === 'concatenated string' || type === 'sliced string') name = '(string)';
    if (name.length > 60) name = name.slice(0, 60) + '…';
    const key = `${type}:${name}`;
    const kind = kinds.get(key) ?? { count: 0, bytes: 0 };
    kind.count += 1;
    kind.bytes += snap.nodes[i + sizeAt];
    kinds.set(key, kind);
  }
  return kinds;
}

test('what a running dashboard page accumulates', async ({ page }) => {
  test.setTimeout((MINUTES + 2) * 60_000 + WARM_UP_S * 1_000);
  const dir = mkdtempSync(join(tmpdir(), 'livedash-heap-'));
  const server = await Livedash.start(['--dashboards-dir', dir, '--sample-interval', '1h']);
  let running = true;
  try {
    const widgets = Array.from({ length: WIDGETS }, (_, i) => ({
      id: `w${i}`,
      type: CHARTS_ONLY || i % 2 ? 'timeseries' : 'stat',
      title: `Series ${i}`,
      grid: { x: (i % 6) * 2, y: Math.floor(i / 6) * 3, w: 2, h: 3 },
      series: [{ selector: `heap_value{n="${i}"}` }],
      unit: 'count',
    }));
    await fetch(`${server.url}/api/dashboards/heap`, {
      method: 'PUT',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ version: 1, id: 'heap', title: 'Heap', time: { range: RANGE }, widgets }),
    });
    // RATE points a second into the 50 series, for as long as the test runs.
    const feed = (async () => {
      let clock = Date.now();
      while (running) {
        clock = Math.max(clock + 2, Date.now());
        const batch = Array.from({ length: PER_BATCH }, (_, k) => ({
          name: 'heap_value',
          labels: { n: String(k % WIDGETS) },
          value: Math.random() * 100,
          ts: clock + Math.floor(k / WIDGETS),
        }));
        await fetch(`${server.url}/api/ingest`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(batch) });
        await new Promise((r) => setTimeout(r, BATCH_GAP_MS));
      }
    })();
    await page.goto(`${server.url}/d/heap`);
    await page.getByTestId('connection-status').and(page.locator('[data-state="live"]')).waitFor();
    const cdp = await page.context().newCDPSession(page);
    await cdp.send('HeapProfiler.enable');
    const take = async () => {
      await cdp.send('HeapProfiler.collectGarbage');
      const chunks: string[] = [];
      const listener = (e: { chunk: string }) => chunks.push(e.chunk);
      cdp.on('HeapProfiler.addHeapSnapshotChunk', listener);
      await cdp.send('HeapProfiler.takeHeapSnapshot', { reportProgress: false });
      cdp.off('HeapProfiler.addHeapSnapshotChunk', listener);
      const used = (await cdp.send('Runtime.getHeapUsage')).usedSize;
      return { kinds: census(chunks.join('')), used };
    };
    // A page built with the frontend's `heap-count` feature counts its
    // Rust heap: a line a minute then tells a heap that grows from a WASM
    // memory that grows under a steady heap (peaks).
    const heap = async (label: string) => {
      const kib = (b: number) => `${(b / 1024).toFixed(1)} KiB`;
      await cdp.send('HeapProfiler.collectGarbage');
      const js = (await cdp.send('Runtime.getHeapUsage')).usedSize;
      const nodes = await page.evaluate(() => document.getElementsByTagName('*').length);
      const dom = `JS heap ${kib(js)}, ${nodes} DOM nodes`;
      const counts = await page.evaluate(() => (window as { livedashHeap?: () => number[] }).livedashHeap?.());
      if (!counts) {
        console.log(`${label}: ${dom}`);
        return;
      }
      const [live, peak, largest, allocations, memory] = counts;
      console.log(
        `${label}: Rust heap ${kib(live)}, peak since the last line ${kib(peak)}, largest allocation ${kib(largest)}, ` +
          `${allocations} allocations, WASM memory ${(memory / 1048576).toFixed(1)} MiB, ${dom}`,
      );
    };
    await heap('start');
    for (let s = 0; s < WARM_UP_S; s += 60) {
      await page.waitForTimeout(Math.min(60, WARM_UP_S - s) * 1_000);
      await heap(`warm-up ${Math.min(s + 60, WARM_UP_S)} s`);
    }
    const before = await take();
    for (let minute = 1; minute <= MINUTES; minute++) {
      await page.waitForTimeout(60_000);
      await heap(`minute ${minute}`);
    }
    const after = await take();
    const rows = [...after.kinds].map(([key, a]) => {
      const b = before.kinds.get(key) ?? { count: 0, bytes: 0 };
      return { key, count: a.count - b.count, bytes: a.bytes - b.bytes, total: a.count };
    });
    rows.sort((x, y) => y.bytes - x.bytes);
    console.log(`JS heap used: ${(before.used / 1024).toFixed(0)} KiB -> ${(after.used / 1024).toFixed(0)} KiB over ${MINUTES} min`);
    for (const row of rows.slice(0, 25)) {
      console.log(`${String(row.bytes).padStart(9)} B ${String(row.count).padStart(7)} objects (now ${row.total})  ${row.key}`);
    }
  } finally {
    running = false;
    await server.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});
