// uPlot's redraw time in the same headless Chromium as livedash's chart
// benchmark (app/tests/chart_bench.rs), on the same data: scripts/chart-bench.sh
// runs both. A redraw is `u.batch(() => u.setData(data))`: scales, paths
// and axes rebuilt from the data and drawn, synchronously, on an 800 x 300
// chart at device pixel ratio 1. The live cases are a streaming chart as
// uPlot draws one: each frame slides the window one point on (the data
// as views one point further along, a point appended and the oldest
// dropped) and calls setData, which rebuilds every path from its points.
// Prints one `chart-bench` line per case.
const { chromium } = require('@playwright/test');

const ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

(async () => {
  const browser = await chromium.launch({ executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium', args: ARGS });
  try {
    const page = await browser.newPage({ viewport: { width: 1000, height: 600 }, deviceScaleFactor: 1 });
    await page.setContent('<!doctype html><html><body><div id="chart"></div></body></html>');
    await page.addStyleTag({ path: require.resolve('uplot/dist/uPlot.min.css') });
    await page.addScriptTag({ path: require.resolve('uplot/dist/uPlot.iife.min.js') });
    const cases = [
      ['4 series x 3,600 points', 4, 3_600, 50],
      ['1 series x 1,000,000 points', 1, 1_000_000, 15],
    ];
    for (const [name, series, count, runs] of cases) {
      for (const live of [false, true]) {
        const [median, p95] = await page.evaluate(
          async ([series, count, runs, live]) => {
            // The same noisy wave as the Rust side (values, not bits), with
            // room for the live frames' new points.
            const frames = live ? runs * 4 + 3 : 0;
            const total = count + frames;
            const xs = new Float64Array(total);
            for (let i = 0; i < total; i++) xs[i] = i; // seconds
            const all = [xs];
            for (let s = 0; s < series; s++) {
              const ys = new Float64Array(total);
              for (let i = 0; i < total; i++) ys[i] = 50 + 30 * Math.sin(i / 300) + 10 * Math.random();
              all.push(ys);
            }
            let frame = 0;
            const view = () => all.map((a) => a.subarray(frame, frame + count));
            const data = view();
            const el = document.getElementById('chart');
            el.innerHTML = '';
            const opts = {
              width: 800,
              height: 300,
              pxRatio: 1,
              scales: { x: { time: true } },
              series: [{}, ...Array.from({ length: series }, () => ({ stroke: '#2f7df6', width: 1.5 }))],
              legend: { show: false },
            };
            // eslint-disable-next-line no-undef
            const u = new uPlot(opts, data, el);
            // setData re-ranges the scales and rebuilds the paths and axes;
            // batch() commits at once instead of in a microtask, so the
            // timing holds the whole redraw and nothing else.
            const redraw = async () => {
              if (live) frame += 1;
              u.batch(() => u.setData(live ? view() : data));
            };
            for (let i = 0; i < 3; i++) await redraw();
            const took = [];
            const timed = live ? runs * 4 : runs;
            for (let i = 0; i < timed; i++) {
              const start = performance.now();
              await redraw();
              took.push(performance.now() - start);
            }
            took.sort((a, b) => a - b);
            u.destroy();
            return [took[Math.floor(timed / 2)], took[Math.min(timed - 1, Math.floor((timed * 95) / 100))]];
          },
          [series, count, runs, live],
        );
        const label = live ? `${name}, live` : name;
        console.log(`chart-bench uPlot | ${label} | median ${median.toFixed(1)} ms | p95 ${p95.toFixed(1)} ms`);
      }
    }
  } finally {
    await browser.close();
  }
})();
