// First meaningful paint of the cockpit and of the village board, and what the page
// downloads, against a running server (bench/api.sh leaves one on the 3-year city with
// BENCH_KEEP=1). Meaningful: the town cockpit's task table, leaderboards and chart drawn;
// the board's task list drawn. Each page is loaded cold (a new browser context) five times;
// the median and the worst are printed.
//
//   COCKPIT_URL=http://127.0.0.1:18181/ CHROMIUM=/usr/bin/chromium \
//   LEADER_TOKEN=xc_… SECRETARY_TOKEN=xc_… node web/tests/paint.mjs
import { chromium } from 'playwright-core';

const env = (name) => {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set`);
  return v;
};
const url = env('COCKPIT_URL');
const browser = await chromium.launch({ executablePath: env('CHROMIUM'), args: ['--no-sandbox', '--disable-dev-shm-usage'] });

async function paint(token, viewport, selectors) {
  const ctx = await browser.newContext({ viewport });
  const page = await ctx.newPage();
  let bytes = 0;
  page.on('response', async (r) => {
    const size = Number((await r.allHeaders())['content-length'] ?? 0);
    bytes += size;
  });
  await page.goto(url);
  await page.fill('#token', token);
  const started = Date.now();
  await page.click('form.sign-in button[type=submit]');
  for (const s of selectors) await page.waitForSelector(s, { timeout: 60_000 });
  const ms = Date.now() - started;
  await ctx.close();
  return { ms, bytes };
}

async function measure(name, token, viewport, selectors) {
  const runs = [];
  for (let i = 0; i < 5; i += 1) runs.push(await paint(token, viewport, selectors));
  const times = runs.map((r) => r.ms).sort((a, b) => a - b);
  console.log(`${name}: first meaningful paint after sign-in, median ${times[2]} ms, worst ${times[4]} ms; page downloaded ${(runs[0].bytes / 1024).toFixed(0)} KiB (compressed, as sent)`);
}

await measure('town cockpit (1440 px)', env('LEADER_TOKEN'), { width: 1440, height: 900 },
  ['#board-villages tbody tr', '#board-cadres tbody tr', '#reach-chart canvas']);
await measure('village board (375 px)', env('SECRETARY_TOKEN'), { width: 375, height: 812 },
  ['#board li']);
await browser.close();
