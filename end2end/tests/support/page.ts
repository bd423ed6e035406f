// What the tests read off a livedash page: the connection indicator, the
// activity feed and its entries, the CPU chart's extent.
import { Page, Locator, expect } from '@playwright/test';

export const status = (page: Page) => page.getByTestId('connection-status');
export const feed = (page: Page) => page.getByTestId('activity-feed');

/** Hides (or shows again) the overview's status board and activity feed:
 * the two widgets that show the dashboard's own channel. */
export async function toggleChannelWidgets(page: Page) {
  await page.getByTestId('status-row-toggle').click();
  await page.getByTestId('activity-row-toggle').click();
}

/** The `seq` of every feed entry, oldest first. */
export async function feedSeqs(page: Page): Promise<number[]> {
  const texts = await feed(page).locator('.feed-card__data').allTextContents();
  return texts.map((text) => JSON.parse(text).seq).reverse();
}

/** The text of every annotation in the feed, oldest first. */
export async function annotations(page: Page): Promise<string[]> {
  const items = feed(page).locator('.feed-card__item', { hasText: 'annotation' });
  const texts = await items.locator('.feed-card__data').allTextContents();
  return texts.map((text) => JSON.parse(text)).reverse();
}

/** What the CPU chart holds: its point count, its oldest and newest times
 * (Unix ms) and the longest time between two consecutive points. */
export interface ChartExtent {
  points: number;
  oldest: number;
  newest: number;
  maxGap: number;
}

export const chart = (page: Page) => page.getByTestId('cpu-chart-card');

export async function chartExtent(page: Page): Promise<ChartExtent> {
  const card = chart(page);
  const read = async (name: string) => Number(await card.getAttribute(name));
  return {
    points: await read('data-points'),
    oldest: await read('data-oldest'),
    newest: await read('data-newest'),
    maxGap: await read('data-max-gap'),
  };
}

/** What reaches past the right edge of the viewport (nothing, on a page
 * that never scrolls sideways), and the page's scroll and viewport widths. */
export async function sidewaysOverflow(page: Page) {
  return page.evaluate(() => {
    const width = document.documentElement.clientWidth;
    const wide = [...document.querySelectorAll('body *')]
      .filter((e) => e.getBoundingClientRect().right > width + 0.5)
      .map((e) => `${e.tagName.toLowerCase()}.${[...e.classList].join('.')}`);
    return { scroll: document.documentElement.scrollWidth, width, wide: wide.slice(0, 10) };
  });
}

/** Hovers the CPU chart's canvas at time `ts` (Unix ms), found from the
 * times its tooltip reads at two points of the canvas. */
export async function hoverCpuAt(canvas: Locator, ts: number) {
  const page = canvas.page();
  await canvas.scrollIntoViewIfNeeded();
  const box = (await canvas.boundingBox())!;
  const tooltip = page.getByTestId('cpu-tooltip');
  const timeAt = async (share: number) => {
    await page.mouse.move(box.x + box.width * share, box.y + box.height / 2);
    await expect(tooltip).toBeVisible();
    return Number(await tooltip.getAttribute('data-ts'));
  };
  const [a, b] = [await timeAt(0.3), await timeAt(0.7)];
  const share = 0.3 + ((ts - a) / (b - a)) * 0.4;
  await page.mouse.move(box.x + box.width * share, box.y + box.height / 2);
}
