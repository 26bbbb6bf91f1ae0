// The village board, made for a phone (375 px): only what is addressed to this village
// (属于你的才显示), soonest deadline first with overdue marks; sign, report progress and
// submit with evidence (the file's SHA-256 is computed here, in the browser; the file
// itself is not uploaded); the procedures with their next step; open listings to bid on.

import {
  VILLAGE_BOARD, VILLAGE_BOARD_CHANGED, SIGN_ASSIGNMENT, REPORT_PROGRESS, SUBMIT_WORK,
  PROCEDURE_REGISTER, OPEN_LISTINGS, SUBMIT_BID, CADRES, ASSIGN_WORK,
} from './operations.js';
import { h, errorBox, date, dateTime, label, sha256Hex, STATUS } from './ui.js';

const OPEN = new Set(['issued', 'signed', 'assigned', 'in_progress', 'returned']);

export function renderVillageBoard(root, { client, me }) {
  const village = me.scope;
  const stops = [];
  let showAll = false;
  let rows = [];
  let cadres = [];
  const secretary = me.role === 'village_secretary';

  const notice = h('div.notice', { 'aria-live': 'polite' });
  const tabs = h('div.tabs', {},
    h('button', { type: 'button', className: 'current', dataset: { tab: 'open' }, onclick: () => setTab(false) }, '待办'),
    h('button', { type: 'button', dataset: { tab: 'all' }, onclick: () => setTab(true) }, '全部'));
  const list = h('ul.tasks-list', { id: 'board' });
  const procedures = h('ul.procedures', { id: 'procedures' });
  const listings = h('ul.listings', { id: 'listings' });
  root.append(
    h('section.board-view', {},
      h('h1', {}, `${me.scopeName ?? village} · 村务看板`),
      notice,
      h('h2', {}, '任务'), tabs, list,
      h('h2', {}, '决策程序(五议两公开)'), procedures,
      h('h2', {}, '可揭榜项目'), listings),
  );

  const say = (text) => notice.replaceChildren(h('p.ok', { role: 'status' }, text));
  const fail = (e) => notice.replaceChildren(errorBox(e));

  function setTab(all) {
    showAll = all;
    for (const b of tabs.children) b.classList.toggle('current', (b.dataset.tab === 'all') === all);
    renderTasks();
  }

  async function act(what, query, variables, done) {
    try {
      const result = await client.request(query, variables);
      const position = Object.values(result)[0].position;
      say(done);
      await loadBoard(position);
      return true;
    } catch (e) {
      fail(e);
      return false;
    }
  }

  function progressForm(t) {
    const percent = h('input', { type: 'number', min: 0, max: 100, value: t.progressPercent ?? 50, name: 'percent', required: true });
    const note = h('input', { type: 'text', name: 'note', placeholder: '进展说明', required: true });
    return h('form.inline', {
      className: 'inline progress',
      onsubmit: (e) => {
        e.preventDefault();
        act('progress', REPORT_PROGRESS, { task: t.task, village, percent: Number(percent.value), note: note.value }, '进度已报告');
      },
    }, h('label', {}, '完成', percent, '%'), note, h('button', { type: 'submit' }, '报告进度'));
  }

  // 分派: the secretary hands the work to one of the village's cadres.
  function assignForm(t) {
    const who = h('select', { name: 'cadre', required: true },
      h('option', { value: '' }, '(承办人)'),
      ...cadres.filter((c) => c.person !== me.person).map((c) => h('option', { value: c.person }, `${c.name}(${c.roleTitle})`)));
    return h('form', {
      className: 'inline assign',
      onsubmit: (e) => {
        e.preventDefault();
        if (!who.value) return;
        act('assign', ASSIGN_WORK, { task: t.task, village, cadre: who.value }, `已分派给 ${who.selectedOptions[0].textContent}`);
      },
    }, who, h('button', { type: 'submit' }, '分派'));
  }

  function submitForm(t) {
    const summary = h('input', { type: 'text', name: 'summary', placeholder: '办理情况', required: true });
    const file = h('input', { type: 'file', name: 'evidence', required: true });
    return h('form', {
      className: 'inline submit',
      onsubmit: async (e) => {
        e.preventDefault();
        const chosen = file.files[0];
        if (!chosen) return;
        const sha256 = await sha256Hex(chosen);
        act('submit', SUBMIT_WORK, { task: t.task, village, summary: summary.value, evidence: [{ sha256, name: chosen.name }] },
          `已提交,佐证 ${chosen.name}(SHA-256 ${sha256.slice(0, 12)}…)`);
      },
    }, summary, h('label', {}, '佐证材料 ', file), h('button', { type: 'submit' }, '提交'));
  }

  function renderTasks() {
    const shown = showAll ? rows : rows.filter((t) => OPEN.has(t.status));
    list.replaceChildren(...shown.map((t) => h('li.task', {
      dataset: { task: t.task, status: t.status },
      className: `task${t.overdue ? ' late' : ''}`,
    },
    h('div.task-head', {},
      h('strong', {}, t.title),
      t.overdue ? h('span.badge.late', {}, '逾期') : null,
      h('span.badge', {}, label(STATUS, t.status))),
    h('div.muted', {}, `${t.category} · ${t.score}分 · 截止 ${dateTime(t.deadline)}`),
    t.progressPercent !== null && t.progressPercent !== undefined
      ? h('progress', { max: 100, value: t.progressPercent }) : null,
    t.assignee ? h('div.muted.assignee', {}, `承办人:${cadres.find((c) => `cadre:${c.person}` === t.assignee)?.name ?? t.assignee.replace(/^cadre:/, "").replace(/^grid:/, "网格 ")}`) : null,
    t.lastReturnReason ? h('div.error', {}, `退回原因:${t.lastReturnReason}`) : null,
    me.canWrite && t.status === 'issued'
      ? h('button.primary', { type: 'button', dataset: { action: 'sign' }, onclick: () => act('sign', SIGN_ASSIGNMENT, { task: t.task, village }, `已签收:${t.title}`) }, '签收')
      : null,
    me.canWrite && secretary && cadres.length && ['signed', 'assigned', 'in_progress', 'returned'].includes(t.status)
      ? assignForm(t) : null,
    me.canWrite && OPEN.has(t.status) && t.status !== 'issued' ? [progressForm(t), submitForm(t)] : null)));
    if (!shown.length) list.append(h('li.muted', {}, showAll ? '暂无任务' : '暂无待办任务'));
  }

  async function loadBoard(minPosition) {
    try {
      const data = await client.request(VILLAGE_BOARD, { village, minPosition });
      rows = data.villageBoard;
      renderTasks();
    } catch (e) {
      fail(e);
    }
  }

  async function loadProcedures() {
    try {
      const { procedureRegister } = await client.request(PROCEDURE_REGISTER, { village });
      procedures.replaceChildren(...procedureRegister.map((p) => {
        const next = p.steps.find((s) => s.state === 'pending');
        return h('li.card', { dataset: { procedure: p.procedure } },
          h('strong', {}, p.title),
          h('div.muted', {}, `${p.templateName} · ${(p.amountFen / 100).toFixed(2)}元 · ${label(STATUS, p.status)} · ${date(p.startedAt)}起`),
          next ? h('div', {}, `下一步:第${next.stepNo}步 ${next.name}`) : null,
          h('ol.steps', {}, ...p.steps.map((s) => h('li', { className: s.state }, `${s.name}(${{ passed: '通过', failed: '未通过', posted: '已公示', pending: '待办' }[s.state] ?? s.state})`))),
          p.returns.length ? h('div.error', {}, `退回 ${p.returns.length} 次,最近:${p.returns[p.returns.length - 1].reason}`) : null);
      }));
      if (!procedureRegister.length) procedures.append(h('li.muted', {}, '暂无决策程序'));
    } catch (e) {
      fail(e);
    }
  }

  async function loadListings() {
    try {
      const { openListings } = await client.request(OPEN_LISTINGS, { village });
      listings.replaceChildren(...openListings.map((l) => {
        const statement = h('textarea', { name: 'statement', placeholder: '本村优势与承诺', required: true });
        return h('li.card', { dataset: { listing: l.listing } },
          h('strong', {}, l.project),
          h('p', {}, l.description),
          h('div.muted', {}, `报名截止 ${dateTime(l.bidDeadline)}`),
          me.canWrite ? h('form', {
            onsubmit: (e) => {
              e.preventDefault();
              act('bid', SUBMIT_BID, { listing: l.listing, village, statement: statement.value, attachments: [] }, `已竞榜:${l.project}`)
                .then((ok) => ok && loadListings());
            },
          }, statement, h('button', { type: 'submit' }, '竞榜')) : null);
      }));
      if (!openListings.length) listings.append(h('li.muted', {}, '暂无可揭榜项目'));
    } catch (e) {
      fail(e);
    }
  }

  stops.push(client.subscribe(VILLAGE_BOARD_CHANGED, { village }, {
    next: ({ data }) => {
      if (!data) return;
      const newest = Math.max(...data.villageBoardChanged.map((r) => r.position));
      loadBoard(newest);
    },
    error: fail,
  }));
  if (secretary) {
    client.request(CADRES, { scope: village })
      .then(({ cadres: list }) => { cadres = list; renderTasks(); })
      .catch(fail);
  }
  loadBoard();
  loadProcedures();
  loadListings();

  return () => stops.forEach((stop) => stop());
}
