// The cockpit in a real browser (Debian's Chromium, headless, through playwright-core).
// Run by `cargo test --test cockpit` (tests/cockpit.rs), which starts `xingcun serve` on a
// simulated history, dispatches a fresh task to two villages and passes, in the
// environment: COCKPIT_URL, CHROMIUM, SECRETARY_TOKEN, LEADER_TOKEN, AUDITOR_TOKEN,
// VILLAGE (the secretary's), OTHER_VILLAGE, TOWN, TASK, SCREENSHOTS (a folder).
//
// Prints one line per check and `N passed, N failed` at the end; exits 1 on a failure.

import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { chromium } from 'playwright-core';

const env = (name) => {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set`);
  return v;
};
const url = env('COCKPIT_URL');
const origin = new URL(url).origin;
const village = env('VILLAGE');
const otherVillage = env('OTHER_VILLAGE');
const task = env('TASK');
const shots = env('SCREENSHOTS');

const browser = await chromium.launch({
  executablePath: env('CHROMIUM'),
  args: ['--no-sandbox', '--disable-dev-shm-usage'],
});

let passed = 0;
let failed = 0;
async function check(name, fn) {
  try {
    await fn();
    passed += 1;
    console.log(`ok   ${name}`);
  } catch (e) {
    failed += 1;
    console.log(`FAIL ${name}\n     ${String(e?.stack ?? e).split('\n').slice(0, 6).join('\n     ')}`);
  }
}

/** A browser context that records what leaves the origin, console errors and GraphQL requests. */
async function context(viewport, { expectedErrors = [] } = {}) {
  const ctx = await browser.newContext({ viewport, acceptDownloads: true });
  const record = { outside: [], consoleErrors: [], graphql: [] };
  ctx.on('request', (r) => {
    const u = r.url();
    if (u.startsWith('data:') || u.startsWith('blob:')) return;
    if (new URL(u).origin !== origin) record.outside.push(u);
    if (u.startsWith(`${origin}/graphql`) && r.method() === 'POST') record.graphql.push(r.postData() ?? '');
  });
  const page = await ctx.newPage();
  page.on('websocket', (ws) => {
    const u = new URL(ws.url());
    if (u.host !== new URL(origin).host) record.outside.push(ws.url());
    ws.on('framesent', (f) => record.graphql.push(String(f.payload)));
  });
  page.on('console', (m) => {
    if (m.type() === 'error' && !expectedErrors.some((re) => re.test(m.text()))) record.consoleErrors.push(m.text());
  });
  page.on('pageerror', (e) => record.consoleErrors.push(`pageerror: ${e.message}`));
  return { ctx, page, record };
}

async function signIn(page, token) {
  await page.goto(url);
  await page.fill('#token', token);
  await page.click('form.sign-in button[type=submit]');
}

const contexts = [];
try {
  // ── a bad token gets a clear message ─────────────────────────────────────
  const bad = await context({ width: 1440, height: 900 }, { expectedErrors: [/status of 401/] });
  contexts.push(bad);
  await check('a wrong token is refused with a clear message', async () => {
    await signIn(bad.page, `xc_${'0'.repeat(64)}`);
    await bad.page.waitForSelector('p.error', { timeout: 5000 });
    assert.match(await bad.page.textContent('p.error'), /令牌无效、已过期或已撤销/);
    await bad.page.screenshot({ path: join(shots, 'sign-in-refused.png') });
  });

  // ── the village secretary on a phone ─────────────────────────────────────
  const phone = await context({ width: 375, height: 812 });
  contexts.push(phone);
  const row = `li.task[data-task="${task}"]`;
  await check('the secretary signs in and sees the new task on their board', async () => {
    await signIn(phone.page, env('SECRETARY_TOKEN'));
    await phone.page.waitForSelector(row, { timeout: 10_000 });
    assert.equal(await phone.page.getAttribute(row, 'data-status'), 'issued');
    await phone.page.waitForSelector('#procedures li', { timeout: 10_000 });
  });
  await check('the board at 375 px has no horizontal scroll', async () => {
    const [scroll, inner] = await phone.page.evaluate(() => [document.documentElement.scrollWidth, window.innerWidth]);
    assert.ok(scroll <= inner, `page is ${scroll}px wide in a ${inner}px window`);
    await phone.page.screenshot({ path: join(shots, 'village-board-375.png'), fullPage: true });
  });

  // ── the town leader's cockpit, in a second browser context ───────────────
  const desk = await context({ width: 1440, height: 900 });
  contexts.push(desk);
  const townRow = `#tasks tr[data-task="${task}"]`;
  await check('the town leader sees the cockpit with the task, charts and leaderboards', async () => {
    await signIn(desk.page, env('LEADER_TOKEN'));
    await desk.page.waitForSelector(townRow, { timeout: 10_000 });
    assert.equal(await desk.page.textContent(`${townRow} td[data-col=signed]`), '0');
    // The history has points in 2024; this year may have none yet.
    await desk.page.selectOption('#period', '2024');
    await desk.page.waitForSelector('#board-villages tbody tr', { timeout: 10_000 });
    await desk.page.waitForSelector('#board-cadres tbody tr', { timeout: 10_000 });
    await desk.page.click('#board-villages tbody tr');
    await desk.page.waitForFunction(() => document.querySelector('#index-chart')?.previousSibling?.textContent.includes('2024'));
    await desk.page.waitForSelector('#reach-chart canvas', { timeout: 10_000 });
    await desk.page.waitForSelector('.kpi[data-kpi=procedures] strong', { timeout: 10_000 });
    await desk.page.waitForFunction(() => document.querySelector('.kpi[data-kpi=procedures] strong')?.textContent !== '…');
    await desk.page.waitForFunction(() => document.getElementById('live')?.dataset.state === 'open', null, { timeout: 10_000 });
  });

  await check('a task signed on the phone shows on the cockpit without a reload, within a second or two', async () => {
    await desk.page.evaluate(() => { window.notReloaded = true; });
    const started = Date.now();
    await phone.page.click(`${row} button[data-action=sign]`);
    await desk.page.waitForFunction(
      (sel) => document.querySelector(sel)?.textContent === '1',
      `${townRow} td[data-col=signed]`,
      { timeout: 10_000, polling: 20 },
    );
    const elapsed = Date.now() - started;
    console.log(`     signed on the phone → on the cockpit in ${elapsed} ms`);
    assert.equal(await desk.page.evaluate(() => window.notReloaded), true, 'the cockpit was reloaded');
    await desk.page.waitForSelector('#feed li[data-type=AssignmentSigned]', { timeout: 5000 });
    assert.ok(elapsed < 2500, `took ${elapsed} ms`);
    await desk.page.screenshot({ path: join(shots, 'town-cockpit-1440.png'), fullPage: true });
  });

  await check('the secretary assigns the work to one of the village\'s cadres', async () => {
    await phone.page.waitForSelector(`${row}[data-status=signed] form.assign select option[value]:not([value=""])`, { state: 'attached', timeout: 10_000 });
    const cadre = await phone.page.$eval(`${row} form.assign select option[value]:not([value=""])`, (o) => o.value);
    await phone.page.selectOption(`${row} form.assign select`, cadre);
    await phone.page.click(`${row} form.assign button[type=submit]`);
    await phone.page.waitForSelector(`${row}[data-status=assigned] .assignee`, { timeout: 10_000 });
  });
  await check('the secretary reports progress and submits with evidence hashed in the browser', async () => {
    await phone.page.waitForSelector(`${row}[data-status=assigned] form.progress`, { timeout: 10_000 });
    await phone.page.fill(`${row} form.progress input[name=percent]`, '60');
    await phone.page.fill(`${row} form.progress input[name=note]`, '已完成入户走访');
    await phone.page.click(`${row} form.progress button[type=submit]`);
    // The notice still says what the last action did until this one is answered.
    await phone.page.waitForFunction(() => document.querySelector('.notice')?.textContent.includes('进度已报告'), null, { timeout: 5000 });
    const file = Buffer.from('现场照片(测试)');
    const sha = createHash('sha256').update(file).digest('hex');
    await phone.page.waitForSelector(`${row}[data-status=in_progress] form.submit`, { timeout: 10_000 });
    await phone.page.fill(`${row} form.submit input[name=summary]`, '已办结');
    await phone.page.setInputFiles(`${row} form.submit input[type=file]`, { name: '照片.jpg', mimeType: 'image/jpeg', buffer: file });
    await phone.page.click(`${row} form.submit button[type=submit]`);
    await phone.page.waitForFunction((s) => document.querySelector('.notice')?.textContent.includes(s), sha.slice(0, 12), { timeout: 5000 });
    await phone.page.click('button[data-tab=all]');
    await phone.page.waitForSelector(`${row}[data-status=submitted]`, { timeout: 5000 });
  });

  await check('the secretary\'s page asked only about their own village', async () => {
    const all = phone.record.graphql.join('\n');
    assert.ok(all.includes(village), 'the board was asked for');
    assert.ok(!all.includes(otherVillage), `a request named ${otherVillage}`);
    assert.ok(!all.includes(env('TOWN')), 'a request named the town');
  });

  // ── the auditor ──────────────────────────────────────────────────────────
  const audit = await context({ width: 1440, height: 900 });
  contexts.push(audit);
  await check('the auditor picks the village and its timeline loads, in log order', async () => {
    await signIn(audit.page, env('AUDITOR_TOKEN'));
    const townSelect = `select[data-parent="${env('TOWN')}"]`;
    await audit.page.waitForSelector(townSelect, { timeout: 10_000 });
    await audit.page.selectOption(townSelect, village);
    await audit.page.waitForSelector('#timeline li', { timeout: 10_000 });
    const positions = await audit.page.$$eval('#timeline li', (lis) => lis.map((li) => Number(li.dataset.position)));
    assert.ok(positions.length >= 10, `${positions.length} events`);
    assert.ok(positions.every((p, i) => i === 0 || positions[i - 1] < p), 'log order');
  });
  await check('moving the as-of date back shows the earlier state', async () => {
    // Today in Asia/Shanghai, the users' day (the page reads a date as the end of that day there).
    const today = new Intl.DateTimeFormat('en-CA', { timeZone: 'Asia/Shanghai' }).format(new Date());
    await audit.page.fill('#as-of-date', today);
    await audit.page.dispatchEvent('#as-of-date', 'change');
    await audit.page.waitForSelector(`#as-of tr[data-task="${task}"]`, { timeout: 10_000 });
    const now = Number(await audit.page.getAttribute('#as-of p', 'data-position'));
    await audit.page.fill('#as-of-date', '2023-06-30');
    await audit.page.dispatchEvent('#as-of-date', 'change');
    await audit.page.waitForFunction((p) => Number(document.querySelector('#as-of p')?.dataset.position) < p, now, { timeout: 10_000 });
    assert.equal(await audit.page.$(`#as-of tr[data-task="${task}"]`), null, 'the new task was not there in 2023');
    await audit.page.screenshot({ path: join(shots, 'audit-1440.png'), fullPage: true });
  });
  await check('the auditor sees the hash chain verified', async () => {
    await audit.page.click('#verify');
    await audit.page.waitForSelector('#chain[data-intact="true"]', { timeout: 20_000 });
    assert.match(await audit.page.textContent('#chain'), /链完整/);
  });
  await check('the trail exports as JSON Lines', async () => {
    const [download] = await Promise.all([audit.page.waitForEvent('download'), audit.page.click('#export')]);
    const text = await readFile(await download.path(), 'utf8');
    const lines = text.trim().split('\n').map((l) => JSON.parse(l));
    assert.ok(lines.length >= 10);
    assert.ok(lines.every((e, i) => i === 0 || lines[i - 1].position < e.position));
    assert.ok(lines.every((e) => /^[0-9a-f]{64}$/.test(e.hash)));
    assert.ok(lines.every((e) => e.payload && typeof e.payload === 'object'), 'every event carries its content');
    assert.match(download.suggestedFilename(), /\.jsonl$/);
  });

  // ── everywhere ───────────────────────────────────────────────────────────
  await check('no request left the origin', async () => {
    const outside = contexts.flatMap((c) => c.record.outside);
    assert.deepEqual(outside, []);
  });
  await check('no console errors on any page', async () => {
    const errors = contexts.flatMap((c) => c.record.consoleErrors);
    assert.deepEqual(errors, []);
  });
} finally {
  await browser.close();
}

console.log(`cockpit: ${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
