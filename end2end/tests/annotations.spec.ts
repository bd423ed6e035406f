// Annotations as people meet them: a deploy script posts one, and every
// chart it belongs to marks it, with its text in the tooltip; one made on
// a page appears on another live; a removed one goes from both; a reload
// shows them again from the store; a note for one widget stays off the
// others.
import { test, expect, Page } from '@playwright/test';
import { Livedash } from './support/server';
import { status, hoverCpuAt } from './support/page';

let server: Livedash;

test.beforeAll(async () => {
  server = await Livedash.start(['--sample-interval', '250ms']);
});

test.afterAll(async () => {
  await server.stop();
});

async function annotate(body: object): Promise<{ id: number; time: number }> {
  const response = await fetch(`${server.url}/api/annotations`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  expect(response.status).toBe(201);
  return response.json();
}

const marks = (page: Page, chart: string) => page.getByTestId(`${chart}-chart`);

async function open(page: Page, query = '') {
  await page.goto(server.url + '/' + query);
  await expect(status(page)).toHaveAttribute('data-state', 'live');
}

test('a posted annotation is marked on the charts with its text, live on every page, and gone when removed', async ({ browser }) => {
  const now = Math.floor(Date.now() / 1000) * 1000;
  // A fixed window, so positions and times stay put under the pointer.
  const range = `?from=${new Date(now - 50_000).toISOString()}&to=${new Date(now + 10_000).toISOString()}`;
  const deploy = await annotate({ text: 'deploy v1.4', time: now - 20_000 });
  await annotate({ text: 'maintenance', time: now - 45_000, end: now - 35_000, widget: 'cpu' });

  const page = await browser.newPage();
  const other = await browser.newPage();
  await open(page, range);
  await open(other, range);
  // From the store: both on the CPU chart, only the dashboard's on memory.
  await expect(marks(page, 'cpu')).toHaveAttribute('data-marks', '2');
  await expect(marks(page, 'memory')).toHaveAttribute('data-marks', '1');

  await hoverCpuAt(marks(page, 'cpu'), now - 20_000);
  await expect(page.getByTestId('cpu-tooltip')).toContainText('deploy v1.4');
  await hoverCpuAt(marks(page, 'cpu'), now - 40_000);
  await expect(page.getByTestId('cpu-tooltip')).toContainText('maintenance');
  await expect(page.getByTestId('cpu-tooltip')).not.toContainText('deploy v1.4');

  // Made on one page (the composer's note is at now): on the other live.
  await page.getByTestId('annotation-input').fill('rolled back');
  await page.getByTestId('annotation-input').press('Enter');
  await expect(marks(other, 'cpu')).toHaveAttribute('data-marks', '3');
  await expect(marks(other, 'memory')).toHaveAttribute('data-marks', '2');

  // Removed through the API: gone from both, without a reload.
  const removed = await fetch(`${server.url}/api/annotations/${deploy.id}`, { method: 'DELETE' });
  expect(removed.status).toBe(200);
  await expect(marks(page, 'cpu')).toHaveAttribute('data-marks', '2');
  await expect(marks(other, 'cpu')).toHaveAttribute('data-marks', '2');

  // A reload reads them again from the store.
  await other.reload();
  await expect(status(other)).toHaveAttribute('data-state', 'live');
  await expect(marks(other, 'cpu')).toHaveAttribute('data-marks', '2');
  await hoverCpuAt(marks(other, 'cpu'), now - 40_000);
  await expect(other.getByTestId('cpu-tooltip')).toContainText('maintenance');
  await page.close();
  await other.close();
});

test('crowded annotations share one mark that counts them, and the tooltip lists each', async ({ page }) => {
  const now = Math.floor(Date.now() / 1000) * 1000;
  const range = `?from=${new Date(now - 3_600_000).toISOString()}&to=${new Date(now - 3_000_000).toISOString()}`;
  for (const [i, text] of ['first', 'second', 'third'].entries()) {
    await annotate({ text, time: now - 3_300_000 + i * 1_000, widget: 'memory' });
  }
  await open(page, range);
  // Three notes a second apart in a ten-minute window: one mark.
  await expect(marks(page, 'memory')).toHaveAttribute('data-marks', '1');
  await expect(marks(page, 'cpu')).toHaveAttribute('data-marks', '0');
  const canvas = marks(page, 'memory');
  await canvas.scrollIntoViewIfNeeded();
  const box = (await canvas.boundingBox())!;
  const tooltip = page.getByTestId('memory-tooltip');
  // Find the mark by the tooltip's time, then hover it.
  await page.mouse.move(box.x + box.width * 0.3, box.y + box.height / 2);
  const a = Number(await tooltip.getAttribute('data-ts'));
  await page.mouse.move(box.x + box.width * 0.7, box.y + box.height / 2);
  const b = Number(await tooltip.getAttribute('data-ts'));
  const share = 0.3 + ((now - 3_299_000 - a) / (b - a)) * 0.4;
  await page.mouse.move(box.x + box.width * share, box.y + box.height / 2);
  await expect(tooltip.locator('.chart-card__tooltip-note')).toHaveText(['first', 'second', 'third']);
});

test('a note is made on a chart by Shift-drag over a span or by keyboard at the crosshair, and reaches another page', async ({ browser }) => {
  const now = Math.floor(Date.now() / 1000) * 1000;
  // Fixed, so nothing scrolls out; with the host's newest points in it.
  const range = `?from=${new Date(now - 30_000).toISOString()}&to=${new Date(now + 30_000).toISOString()}`;
  const page = await browser.newPage();
  const other = await browser.newPage();
  await open(page, range);
  await open(other, range);
  const before = Number(await marks(other, 'cpu').getAttribute('data-marks'));
  const memoryBefore = Number(await marks(other, 'memory').getAttribute('data-marks'));

  // Shift-drag: a span, for this chart only.
  const canvas = marks(page, 'cpu');
  const box = (await canvas.boundingBox())!;
  await page.keyboard.down('Shift');
  await page.mouse.move(box.x + box.width * 0.4, box.y + box.height / 2);
  await page.mouse.down();
  await page.mouse.move(box.x + box.width * 0.6, box.y + box.height / 2, { steps: 5 });
  await page.mouse.up();
  await page.keyboard.up('Shift');
  const form = page.getByTestId('cpu-annotate');
  await expect(form).toBeVisible();
  await expect(form).toContainText('Note at');
  // Not a zoom: the range stays.
  await expect(page.getByTestId('live-badge')).toHaveText('PAUSED');
  await expect(page.getByTestId('cpu-annotate-text')).toBeFocused();
  await page.getByTestId('cpu-annotate-here').check();
  await page.getByTestId('cpu-annotate-text').fill('load test');
  await page.getByTestId('cpu-annotate-text').press('Enter');
  await expect(form).toBeHidden();
  await expect(marks(other, 'cpu')).toHaveAttribute('data-marks', String(before + 1));
  await expect(marks(other, 'memory')).toHaveAttribute('data-marks', String(memoryBefore));
  const stored = await (await fetch(`${server.url}/api/annotations?widget=cpu&from=${now - 30_000}&to=${now + 30_000}`)).json();
  const note = stored.annotations.find((n: { text: string }) => n.text === 'load test');
  expect(note.widget).toBe('cpu');
  expect(note.end - note.time).toBeGreaterThan(5_000);
  expect(note.time).toBeGreaterThan(now - 30_000);

  // Keyboard: the crosshair by the arrows, `a` opens the form there;
  // Escape leaves without a note (and clears the crosshair), Enter adds it.
  await canvas.focus();
  await page.keyboard.press('ArrowLeft');
  await page.keyboard.press('a');
  await expect(page.getByTestId('cpu-annotate-text')).toBeFocused();
  await page.keyboard.press('Escape');
  await expect(form).toBeHidden();
  await canvas.focus();
  await page.keyboard.press('ArrowLeft');
  await page.keyboard.press('a');
  await expect(page.getByTestId('cpu-annotate-text')).toBeFocused();
  await page.keyboard.type('keyboard note');
  // The last note was for this chart only; this one is for the dashboard.
  await expect(page.getByTestId('cpu-annotate-here')).toBeChecked();
  await page.getByTestId('cpu-annotate-here').uncheck();
  await page.getByTestId('cpu-annotate-text').press('Enter');
  await expect(marks(other, 'memory')).toHaveAttribute('data-marks', String(memoryBefore + 1));
  const all = await (await fetch(`${server.url}/api/annotations?from=${now - 30_000}&to=${now + 30_000}`)).json();
  const moment = all.annotations.find((n: { text: string }) => n.text === 'keyboard note');
  expect(moment.end).toBeUndefined();
  expect(moment.widget).toBeUndefined();
  await page.close();
  await other.close();
});
