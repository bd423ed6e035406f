import { test, expect, Page } from '@playwright/test';
import { spawn } from 'node:child_process';
import { Livedash } from './support/server';

let server: Livedash;

test.beforeAll(async () => {
  server = await Livedash.start(['--sample-interval', '500ms']);
});

test.afterAll(async () => {
  await server?.stop();
});

const status = (page: Page) => page.getByTestId('connection-status');

/** Keeps one core busy for `ms`, so the CPU figure certainly moves. */
function burnCpu(ms: number) {
  return spawn(process.execPath, ['-e', `const end = Date.now() + ${ms}; while (Date.now() < end) {}`], {
    stdio: 'ignore',
  });
}

test('the served HTML already holds the current values', async ({ request }) => {
  const response = await request.get(server.url + '/');
  expect(response.status()).toBe(200);
  const html = await response.text();
  expect(html).toMatch(/data-testid="cpu-total-value"[^>]*>\d+(\.\d)?%</);
  expect(html).toMatch(/data-testid="memory-used-value"[^>]*>\d+(\.\d)? [KMGT]?i?B</);
  expect(html).toMatch(/data-testid="load-value"[^>]*>\d+(\.\d+)?</);
  expect(html).toContain('data-state="connecting"');
  expect(html).toMatch(/<script type="module">import init/);
  expect(html).toMatch(/<link rel="stylesheet" href="\/pkg\/livedash\.[\w-]+\.css">/);
});

test('assets are embedded, hashed, compressed and cacheable', async ({ request }) => {
  const html = await (await request.get(server.url + '/')).text();
  const paths = new Set([...html.matchAll(/"(\/pkg\/livedash\.[\w-]+\.(?:js|wasm|css))"/g)].map((m) => m[1]));
  const assets = [...paths].map((path) => [path, path.split('.').pop() ?? '']);
  expect(assets.map(([, ext]) => ext).sort()).toEqual(['css', 'js', 'wasm']);
  const types: Record<string, string> = { js: 'text/javascript', wasm: 'application/wasm', css: 'text/css' };
  for (const [path, ext] of assets) {
    const response = await request.get(server.url + path, { headers: { 'Accept-Encoding': 'br, gzip' } });
    expect(response.status()).toBe(200);
    const headers = response.headers();
    expect(headers['content-type']).toContain(types[ext]);
    expect(headers['content-encoding']).toBe('br');
    expect(headers['cache-control']).toBe('public, max-age=31536000, immutable');
    const etag = headers['etag'];
    expect(etag).toMatch(/^"[0-9a-f]+-br"$/);
    const again = await request.get(server.url + path, {
      headers: { 'Accept-Encoding': 'br, gzip', 'If-None-Match': etag },
    });
    expect(again.status()).toBe(304);
  }
  const icon = await request.get(server.url + '/favicon.svg');
  expect(icon.headers()['content-type']).toBe('image/svg+xml');
  expect(icon.headers()['cache-control']).toBe('public, no-cache');
});

test('the page hydrates, goes live and updates the cards and the chart', async ({ page }) => {
  const errors: string[] = [];
  page.on('pageerror', (error) => errors.push(error.message));
  await page.goto(server.url + '/');
  await expect(status(page)).toHaveAttribute('data-state', 'live');

  const cpu = page.getByTestId('cpu-total-value');
  const canvas = page.getByTestId('cpu-chart');
  const pixels = () => canvas.evaluate((c: HTMLCanvasElement) => c.toDataURL());
  const cpuBefore = await cpu.textContent();
  const chartBefore = await pixels();

  const burner = burnCpu(4_000);
  try {
    await expect(cpu).not.toHaveText(cpuBefore ?? '', { timeout: 5_000 });
    await expect.poll(pixels, { timeout: 5_000 }).not.toBe(chartBefore);
  } finally {
    burner.kill();
  }
  expect(errors).toEqual([]);
});

test('the status shows reconnecting while the server is down and live once it is back', async ({ page }) => {
  await page.goto(server.url + '/');
  await expect(status(page)).toHaveAttribute('data-state', 'live');

  const stopTook = await server.stop();
  expect(stopTook).toBeLessThan(2_000);
  await expect(status(page)).toHaveAttribute('data-state', 'reconnecting', { timeout: 5_000 });

  await server.restart();
  await expect(status(page)).toHaveAttribute('data-state', 'live', { timeout: 20_000 });
  const cpu = page.getByTestId('cpu-total-value');
  const before = await cpu.textContent();
  const burner = burnCpu(4_000);
  try {
    await expect(cpu).not.toHaveText(before ?? '', { timeout: 5_000 });
  } finally {
    burner.kill();
  }
});
