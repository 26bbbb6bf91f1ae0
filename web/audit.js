// The auditor's replay (无感留痕): pick a village, read its history in log order (a Relay
// connection, paged by log position), see the village as it stood at any position or
// date, and export the history as JSON Lines: every event with its content and hashes,
// made in the browser from what `auditTrail` answers (every page of it).

import {
  REGION, REGIONS, AUDIT_TRAIL, VILLAGE_AS_OF_POSITION, VILLAGE_AS_OF_TIME, VERIFY_CHAIN, AUDIT_EXPORT,
} from './operations.js';
import { h, errorBox, dateTime, today, label, points, EVENT, STATUS } from './ui.js';

const PAGE = 50;

export function renderAudit(root, { client, me }) {
  let village = null;
  let events = [];
  let endCursor = null;

  const pickers = h('div.pickers', {}, h('span', {}, '选择村社:'));
  const errors = h('div');
  const timeline = h('ol.timeline', { id: 'timeline' });
  const more = h('button', { type: 'button', id: 'more', hidden: true, onclick: () => loadPage() }, '加载更多');
  const exportButton = h('button', { type: 'button', id: 'export', disabled: true, onclick: () => exportTrail() }, '导出 JSON Lines');
  const slider = h('input', { type: 'range', id: 'as-of-position', min: 0, max: 0, step: 1, disabled: true });
  const sliderLabel = h('output', {});
  const dateInput = h('input', { type: 'date', id: 'as-of-date', max: today() });
  const asOf = h('div.as-of', { id: 'as-of' });
  const chain = h('output', { id: 'chain' });
  root.append(
    h('section.audit', {},
      h('h1', {}, '审计回放'),
      h('p.muted', {}, '按日志顺序查看村社的全部记录;下方“验链”在服务器上重算整个日志的哈希链(与 xingcun verify 相同)。'),
      h('div.toolbar', {}, h('button', { type: 'button', id: 'verify', onclick: () => verify() }, '验链'), chain),
      pickers, errors,
      h('div.split', {},
        h('article.card', {}, h('h2', {}, '时间线'), h('div.toolbar', {}, exportButton), timeline, more),
        h('article.card', {}, h('h2', {}, '某一时刻的状态'),
          h('label', {}, '按日志位置 ', slider, sliderLabel),
          h('label', {}, '或按日期 ', dateInput),
          asOf))),
  );
  const fail = (e) => errors.replaceChildren(errorBox(e));

  // ── the hash chain of the whole log, recomputed on the server ────────────────
  async function verify() {
    chain.textContent = '正在验链…';
    try {
      const { verifyChain: v } = await client.request(VERIFY_CHAIN, {});
      chain.textContent = v.intact
        ? `链完整:${v.events} 条记录,末位 #${v.headPosition},哈希 ${v.headHash.slice(0, 16)}…`
        : `链已被破坏:位置 #${v.brokenAt},${v.problem}`;
      chain.dataset.intact = String(v.intact);
    } catch (e) {
      chain.textContent = '';
      fail(e);
    }
  }

  // ── choosing a village, from the auditor's own scope downwards ─────────────
  async function picker(parent) {
    const { regions } = await client.request(REGIONS, { parent });
    if (!regions.length) return;
    const select = h('select', { dataset: { parent } },
      h('option', { value: '' }, '(请选择)'),
      ...regions.map((r) => h('option', { value: r.code, dataset: { level: r.level } }, r.name)));
    select.onchange = async () => {
      while (select.nextSibling) select.nextSibling.remove();
      const chosen = select.selectedOptions[0];
      if (!select.value) return;
      if (chosen.dataset.level === 'village') choose(select.value);
      else await picker(select.value).catch(fail);
    };
    pickers.append(select);
    if (regions.length === 1) {
      select.value = regions[0].code;
      await select.onchange();
    }
  }

  function choose(code) {
    village = code;
    events = [];
    endCursor = null;
    timeline.replaceChildren();
    asOf.replaceChildren();
    loadPage();
  }

  // ── the timeline ───────────────────────────────────────────────────────────
  async function loadPage() {
    try {
      const { auditTrail } = await client.request(AUDIT_TRAIL, { region: village, after: endCursor, first: PAGE });
      const nodes = auditTrail.edges.map((e) => e.node);
      events.push(...nodes);
      endCursor = auditTrail.pageInfo.endCursor ?? endCursor;
      more.hidden = !auditTrail.pageInfo.hasNextPage;
      exportButton.disabled = events.length === 0;
      timeline.append(...nodes.map((n) => h('li', { dataset: { position: n.position, type: n.eventType } },
        h('span.pos', {}, `#${n.position}`), ' ',
        h('time', {}, dateTime(n.recordedAt)), ' ',
        h('strong', {}, label(EVENT, n.eventType)), ' ',
        h('span.muted', {}, `${n.actor} · ${n.streamId}`),
        h('code.hash', { title: `prev ${n.prevHash}` }, n.hash.slice(0, 12)),
        h('button.link', { type: 'button', onclick: () => { slider.value = n.position; replay({ position: n.position }); } }, '回放到此'))));
      if (events.length) {
        slider.disabled = false;
        slider.min = events[0].position;
        slider.max = events[events.length - 1].position;
      }
    } catch (e) {
      fail(e);
    }
  }

  async function exportTrail() {
    exportButton.disabled = true;
    try {
      const lines = [];
      let after = null;
      for (;;) {
        const { auditTrail } = await client.request(AUDIT_EXPORT, { region: village, after, first: 200 });
        for (const e of auditTrail.edges) lines.push(JSON.stringify(e.node));
        if (!auditTrail.pageInfo.hasNextPage) break;
        after = auditTrail.pageInfo.endCursor;
      }
      const blob = new Blob([`${lines.join('\n')}\n`], { type: 'application/x-ndjson' });
      const a = h('a', { href: URL.createObjectURL(blob), download: `audit-trail-${village}.jsonl` });
      document.body.append(a);
      a.click();
      a.remove();
      setTimeout(() => URL.revokeObjectURL(a.href), 10_000);
    } catch (e) {
      fail(e);
    } finally {
      exportButton.disabled = false;
    }
  }

  // ── as of a position or a date ─────────────────────────────────────────────
  async function replay(at) {
    if (!village) return;
    try {
      const data = at.position !== undefined
        ? await client.request(VILLAGE_AS_OF_POSITION, { village, position: Number(at.position) })
        : await client.request(VILLAGE_AS_OF_TIME, { village, time: at.time });
      const v = data.villageAsOf;
      sliderLabel.textContent = `#${v.position}`;
      slider.value = v.position;
      asOf.replaceChildren(
        h('p', { dataset: { position: v.position } }, `截至日志位置 #${v.position}${v.recordedAt ? `(${dateTime(v.recordedAt)})` : ''}:${v.events} 条记录,台账中 ${v.tasksInLedger} 项任务`),
        h('table', {},
          h('thead', {}, h('tr', {}, ...['任务', '截止', '状态', '进度', '返工', '工分'].map((t) => h('th', {}, t)))),
          h('tbody', {}, ...v.tasks.map((t) => h('tr', { dataset: { task: t.task, status: t.status }, className: t.overdue ? 'late' : '' },
            h('td', {}, t.title), h('td', {}, dateTime(t.deadline).slice(0, 10)),
            h('td', {}, `${label(STATUS, t.status)}${t.overdue ? '(逾期)' : ''}`),
            h('td', {}, `${t.progressPercent}%`), h('td', {}, t.reworkCount),
            h('td', {}, t.pointsHundredths === null ? '—' : points(t.pointsHundredths)))))),
      );
    } catch (e) {
      fail(e);
    }
  }
  slider.onchange = () => replay({ position: slider.value });
  slider.oninput = () => { sliderLabel.textContent = `#${slider.value}`; };
  dateInput.onchange = () => {
    if (dateInput.value) replay({ time: `${dateInput.value}T23:59:59+08:00` });
  };

  // ── start: the auditor's scope ─────────────────────────────────────────────
  (async () => {
    try {
      const { region } = await client.request(REGION, { code: me.scope });
      if (region?.level === 'village') choose(me.scope);
      else await picker(me.scope);
    } catch (e) {
      fail(e);
    }
  })();

  return () => {};
}
