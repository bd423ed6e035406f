// What the page subscribes to follows what it shows, and what it sends gets
// there: hiding a row of widgets drops their channel and showing it again
// restores their state; an annotation moves the page to a WebSocket, waits
// in the outbox while offline and reaches every page once.
import { test, expect, Page } from '@playwright/test';
import { Livedash } from './support/server';
import { status, feed, feedSeqs, annotations, toggleChannelWidgets } from './support/page';

const row = (page: Page) => page.getByTestId('activity-row');

for (const transport of ['sse', 'ws', 'poll'] as const) {
  test(`over ${transport}, a hidden row's channel is dropped and showing it again restores its state`, async ({
    page,
  }) => {
    const server = await Livedash.start(['--heartbeat-interval', '2s']);
    try {
      const requests: string[] = [];
      page.on('request', (request) => requests.push(request.url()));
      const sent: string[] = [];
      page.on('websocket', (socket) => socket.on('framesent', (frame) => sent.push(String(frame.payload))));
      const sentType = (type: string) =>
        sent.some((text) => text.includes(`"type":"${type}"`) && text.includes('dashboard:main'));
      await page.goto(`${server.url}/?transport=${transport}`);
      await expect(status(page)).toHaveAttribute('data-state', 'live');
      await server.publish([{ seq: 1 }, { seq: 2 }]);
      await expect.poll(() => feedSeqs(page)).toEqual([1, 2]);

      await toggleChannelWidgets(page);
      await expect(row(page)).toHaveAttribute('data-open', 'false');
      await expect(feed(page)).toHaveCount(0);
      if (transport === 'ws') {
        // The socket stays; the page unsubscribes.
        await expect.poll(() => sentType('unsubscribe')).toBe(true);
      } else {
        // The page reconnects without the hidden row's channel: the
        // alerts and the series only.
        await expect
          .poll(() => requests.some((url) => url.includes('/api/realtime/') && url.includes('channels=alerts,series&')))
          .toBe(true);
      }
      await server.publish([{ seq: 3 }, { seq: 4 }]);
      // The host's points keep flowing while the rows are hidden.
      const spark = page.getByTestId('cpu-total-widget').locator('.value-card__spark path');
      const before = await spark.getAttribute('d');
      await expect.poll(() => spark.getAttribute('d'), { timeout: 5_000 }).not.toBe(before);

      await toggleChannelWidgets(page);
      await expect(row(page)).toHaveAttribute('data-open', 'true');
      await expect.poll(() => feedSeqs(page)).toEqual([1, 2, 3, 4]);
      if (transport === 'ws') {
        expect(sent.filter((text) => text.includes('"type":"subscribe"') && text.includes('dashboard:main')).length).toBe(2);
      } else {
        expect(requests.some((url) => url.includes('fresh=dashboard%3Amain'))).toBe(true);
      }
      await server.publish([{ seq: 5 }]);
      await expect.poll(() => feedSeqs(page)).toEqual([1, 2, 3, 4, 5]);
      await expect(status(page)).toHaveAttribute('data-transport', transport);
    } finally {
      await server.stop();
    }
  });
}

test('an annotation moves the page to a WebSocket, waits while offline, and reaches every page once', async ({
  page,
  context,
}) => {
  const server = await Livedash.start(['--heartbeat-interval', '2s']);
  try {
    const watcher = await context.newPage();
    await watcher.goto(server.url + '/');
    await page.goto(server.url + '/');
    await expect(status(page)).toHaveAttribute('data-state', 'live');
    await expect(status(page)).toHaveAttribute('data-transport', 'sse');
    await server.publish([{ seq: 1 }]);
    await expect.poll(() => feedSeqs(page)).toEqual([1]);

    await page.getByTestId('annotation-input').fill('deployed v1.4');
    await page.getByTestId('annotation-input').press('Enter');
    await expect(status(page)).toHaveAttribute('data-transport', 'ws');
    await expect.poll(() => annotations(page)).toEqual(['deployed v1.4']);
    await expect(page.getByTestId('annotation-input')).toHaveValue('');
    // The switch resumed from the page's position: nothing lost or repeated.
    await server.publish([{ seq: 2 }]);
    await expect(feed(page)).toHaveAttribute('data-count', '3');

    await context.setOffline(true);
    await expect(status(page)).toHaveAttribute('data-state', 'offline', { timeout: 3_000 });
    await page.getByTestId('annotation-input').fill('rolled back');
    await page.getByTestId('annotation-input').press('Enter');
    await expect(page.getByTestId('outbox')).toHaveAttribute('data-queued', '1');
    await expect(page.getByTestId('outbox')).toHaveText('1 waiting to send');
    await context.setOffline(false);
    await expect(status(page)).toHaveAttribute('data-state', 'live', { timeout: 3_000 });
    await expect(page.getByTestId('outbox')).toHaveAttribute('data-queued', '0');
    await expect.poll(() => annotations(page)).toEqual(['deployed v1.4', 'rolled back']);
    await expect.poll(() => annotations(watcher)).toEqual(['deployed v1.4', 'rolled back']);
    await expect(feed(page)).toHaveAttribute('data-count', '4');
  } finally {
    await server.stop();
  }
});

test('a page pinned to a transport that cannot send disables the composer', async ({ page }) => {
  const server = await Livedash.start();
  try {
    await page.goto(server.url + '/?transport=sse');
    await expect(status(page)).toHaveAttribute('data-state', 'live');
    await expect(page.getByTestId('annotation-input')).toBeDisabled();
    await page.getByTestId('transport-select').selectOption('auto');
    await expect(page.getByTestId('annotation-input')).toBeEnabled();
  } finally {
    await server.stop();
  }
});
