// Rough measurement, not a test: how many events per second the page applies
// while still drawing at 60 frames per second. Run with
// `npx playwright test --config bench/playwright.config.ts`.
import { test } from '@playwright/test';
import { Livedash } from '../tests/support/server';

test('events per second applied at 60 fps', async ({ page }) => {
  test.setTimeout(180_000);
  const server = await Livedash.start(['--sample-interval', '1h']);
  try {
    await page.goto(server.url + '/');
    await page.getByTestId('connection-status').and(page.locator('[data-state="live"]')).waitFor();
    for (const rate of [500, 2_000, 5_000, 10_000, 20_000]) {
      const before = Number(await page.getByTestId('activity-feed').getAttribute('data-count'));
      const frames = page.evaluate(
        () =>
          new Promise<number>((resolve) => {
            let count = 0;
            const start = performance.now();
            const tick = () => {
              count += 1;
              if (performance.now() - start < 4_000) requestAnimationFrame(tick);
              else resolve(count / 4);
            };
            requestAnimationFrame(tick);
          }),
      );
      const started = Date.now();
      let sent = 0;
      while (Date.now() - started < 4_000) {
        const batch = Math.max(1, Math.round(rate / 20));
        await server.publish(Array.from({ length: batch }, (_, i) => ({ seq: sent + i })));
        sent += batch;
        const next = started + (sent / rate) * 1_000;
        await new Promise((r) => setTimeout(r, Math.max(0, next - Date.now())));
      }
      const fps = await frames;
      await page.waitForTimeout(1_000);
      const applied = Number(await page.getByTestId('activity-feed').getAttribute('data-count')) - before;
      console.log(`offered ${Math.round(sent / 4)} events/s: applied ${applied}/${sent}, ${fps.toFixed(1)} fps`);
    }
  } finally {
    await server.stop();
  }
});
