// Who is viewing a dashboard: each open page is counted, by the name its
// viewer chose (kept in the browser) or counted as anonymous; a page that
// closes is gone from the others' header within seconds.
import { test, expect } from '@playwright/test';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Livedash } from './support/server';
import { status } from './support/page';

let dir: string;
let server: Livedash;

test.beforeEach(async () => {
  dir = mkdtempSync(join(tmpdir(), 'livedash-presence-'));
  server = await Livedash.start(['--dashboards-dir', dir, '--sample-interval', '1h']);
  const response = await fetch(`${server.url}/api/dashboards/shop`, {
    method: 'PUT',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      version: 1, id: 'shop', title: 'Shop', time: { range: '15m' },
      widgets: [{ id: 'notes', type: 'text', title: 'Notes', grid: { x: 0, y: 0, w: 6, h: 2 }, options: { markdown: 'hi' } }],
    }),
  });
  expect(response.status).toBe(201);
});

test.afterEach(async () => {
  await server?.stop();
  rmSync(dir, { recursive: true, force: true });
});

test('the header shows who is viewing: a chosen name, the anonymous counted, and a page that closes gone within seconds', async ({ browser }) => {
  const ana = await (await browser.newContext()).newPage();
  await ana.goto(`${server.url}/d/shop`);
  await expect(status(ana)).toHaveAttribute('data-state', 'live');
  await expect(ana.getByTestId('presence')).toContainText('Viewing now: 1 anonymous');
  ana.once('dialog', (dialog) => dialog.accept('Ana'));
  await ana.getByTestId('presence-name').click();
  await expect(ana.getByTestId('presence-name')).toHaveText('You: Ana');
  await expect(ana.getByTestId('presence')).toContainText('Viewing now: Ana');
  // Ana's second tab changes nobody's count, and is still told who is here.
  const anaAgain = await ana.context().newPage();
  await anaAgain.goto(`${server.url}/d/shop`);
  await expect(anaAgain.getByTestId('presence')).toContainText('Viewing now: Ana');
  await anaAgain.close({ runBeforeUnload: true });

  const benContext = await browser.newContext();
  const ben = await benContext.newPage();
  await ben.goto(`${server.url}/d/shop`);
  await expect(ben.getByTestId('presence')).toContainText('Viewing now: Ana and 1 anonymous');
  await expect(ana.getByTestId('presence')).toContainText('Viewing now: Ana and 1 anonymous');

  // Ben closes his page: Ana's header says so within seconds.
  await ben.close({ runBeforeUnload: true });
  await expect(ana.getByTestId('presence')).toHaveText(/Viewing now: Ana\s/, { timeout: 5_000 });
  await benContext.close();

  // A wall screen (?kiosk) is counted, and has no name button.
  const wall = await (await browser.newContext()).newPage();
  await wall.goto(`${server.url}/d/shop?kiosk`);
  await expect(ana.getByTestId('presence')).toContainText('Viewing now: Ana and 1 anonymous');
  await expect(wall.getByTestId('presence')).toContainText('Viewing now: Ana and 1 anonymous');
  await expect(wall.getByTestId('presence-name')).toHaveCount(0);
  await wall.close({ runBeforeUnload: true });
  await expect(ana.getByTestId('presence')).toHaveText(/Viewing now: Ana\s/, { timeout: 5_000 });

  // The name is kept in the browser.
  await ana.reload();
  await expect(ana.getByTestId('presence-name')).toHaveText('You: Ana');
  await expect(ana.getByTestId('presence')).toContainText('Viewing now: Ana');
});
