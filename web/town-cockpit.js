// The cockpit of a town, a county or the city (驾驶舱): the month's dispatches, screening
// refusals with their reasons, what is overdue and returned; tasks reaching villages per
// month against 2023; procedures completed; the two leaderboards with a selected
// subject's 领雁指数; the town's dispatch board and a live feed, both kept current by
// subscriptions (no reload).

import {
  REGION, REGIONS, TOWN_DASHBOARD, SCREENING, COMPLIANT_PROCEDURES, LEADERBOARD,
  LEADER_INDEX, EVENTS, TOWN_DASHBOARD_CHANGED,
} from './operations.js';
import {
  h, errorBox, chart, monthOf, thisMonth, today, date, dateTime, label, points,
  REJECTION_REASON, EVENT,
} from './ui.js';

export function renderTownCockpit(root, { client, me }) {
  const stops = [];
  const state = { level: null, town: null, month: null, stats: null, tasks: [] };

  const monthInput = h('input', { type: 'month', id: 'month', max: thisMonth() });
  const periodSelect = h('select', { id: 'period' });
  const townSelect = h('select', { id: 'town' });
  const kpis = h('section.kpis');
  const reachChart = h('div.chart', { id: 'reach-chart' });
  const reasonChart = h('div.chart', { id: 'reason-chart' });
  const reasonList = h('ul.reasons');
  const villagesBoard = h('table.board', { id: 'board-villages' });
  const cadresBoard = h('table.board', { id: 'board-cadres' });
  const indexTitle = h('p.muted', {}, '点击榜单中的村社或干部,查看领雁指数各维度');
  const indexChart = h('div.chart', { id: 'index-chart' });
  const tasksTable = h('table.tasks', { id: 'tasks' });
  const feed = h('ol.feed', { id: 'feed' }, h('li.muted', {}, '等待新动态…'));
  const errors = h('div');

  root.append(
    h('section.controls',
      {},
      h('h1', {}, `${me.scopeName ?? me.scope} 驾驶舱`),
      h('label', {}, '统计月份 ', monthInput),
      h('label', {}, '榜单周期 ', periodSelect),
      h('label', { id: 'town-picker', hidden: true }, '镇街 ', townSelect)),
    errors,
    kpis,
    h('section.grid',
      {},
      h('article.card.wide', {}, h('h2', {}, '到村任务数(按月,与2023年基数对比)'), reachChart),
      h('article.card', {}, h('h2', {}, '过筛拦截原因(统计月份)'), reasonChart, reasonList),
      h('article.card', {}, h('h2', {}, '兴村治社榜'), villagesBoard),
      h('article.card', {}, h('h2', {}, '先锋干部榜'), cadresBoard),
      h('article.card', {}, h('h2', {}, '领雁指数'), indexTitle, indexChart),
      h('article.card', {}, h('h2', {}, '实时动态'), feed),
      h('article.card.wide', {}, h('h2', {}, '派单看板(最近20条)'), h('div.scroll', {}, tasksTable))),
  );

  const charts = { reach: chart(reachChart), reason: chart(reasonChart), index: chart(indexChart) };

  const fail = (e) => errors.replaceChildren(errorBox(e));

  // ── the figures ────────────────────────────────────────────────────────────
  function renderKpis() {
    const month = state.month;
    const stats = state.stats;
    const reached = stats?.reachedByMonth.find((m) => m.month === month)?.assignments ?? 0;
    const rejected = (stats?.rejections ?? []).filter((r) => r.month === month)
      .reduce((n, r) => n + r.rejected, 0);
    const ofMonth = state.tasks.filter((t) => t.dispatchedAt && monthOf(t.dispatchedAt) === month);
    const overdue = state.tasks.reduce((n, t) => n + t.overdue, 0);
    const returned = ofMonth.reduce((n, t) => n + t.returns, 0);
    const reduction = stats?.reduction;
    const card = (key, title, value, note) => h('div.kpi', { dataset: { kpi: key } },
      h('span.kpi-title', {}, title), h('strong', {}, value), note ? h('small', {}, note) : null);
    kpis.replaceChildren(
      state.town ? card('dispatched', '本月派单', ofMonth.length, `${month}`) : null,
      card('reached', '本月到村任务', reached, '村次'),
      card('rejected', '过筛拦截', rejected, '不符合事项清单,未派发'),
      state.town ? card('overdue', '当前逾期', overdue, '村次') : null,
      state.town ? card('returned', '本月退回整改', returned, '次') : null,
      card('procedures', '合规办结决策程序', state.procedures ?? '…', '2023年以来,五议两公开'),
      card('reduction', `到村任务 ${state.year} 较2023年`,
        reduction === null || reduction === undefined ? '—' : `${reduction > 0 ? '+' : ''}${reduction.toFixed(1)}%`,
        '负数为减少'),
    );
  }

  function renderReach() {
    const byYear = new Map();
    for (const m of state.stats.reachedByMonth) {
      const [y, mm] = m.month.split('-');
      if (!byYear.has(y)) byYear.set(y, Array(12).fill(0));
      byYear.get(y)[Number(mm) - 1] = m.assignments;
    }
    charts.reach?.setOption({
      tooltip: { trigger: 'axis' },
      legend: { top: 0 },
      grid: { left: 40, right: 16, top: 36, bottom: 28 },
      xAxis: { type: 'category', data: Array.from({ length: 12 }, (_, i) => `${i + 1}月`) },
      yAxis: { type: 'value', name: '村次' },
      series: [...byYear.entries()].map(([y, data]) => ({
        name: y === '2023' ? '2023年(基数)' : `${y}年`,
        type: y === '2023' ? 'bar' : 'line',
        data,
        itemStyle: y === '2023' ? { color: '#c9d3df' } : undefined,
      })),
    }, true);
  }

  function renderReasons() {
    const ofMonth = state.stats.rejections.filter((r) => r.month === state.month);
    const byReason = new Map();
    for (const r of ofMonth) byReason.set(r.reason, (byReason.get(r.reason) ?? 0) + r.rejected);
    charts.reason?.setOption({
      tooltip: { trigger: 'item' },
      series: [{
        type: 'pie', radius: ['35%', '65%'],
        data: [...byReason].map(([reason, n]) => ({ name: label(REJECTION_REASON, reason), value: n })),
      }],
      graphic: byReason.size ? [] : [{ type: 'text', left: 'center', top: 'middle', style: { text: '本月无拦截', fill: '#888' } }],
    }, true);
    reasonList.replaceChildren(...ofMonth.map((r) =>
      h('li', {}, `${r.category}:${label(REJECTION_REASON, r.reason)} ×${r.rejected}`)));
  }

  function renderTasks() {
    if (!state.town) {
      tasksTable.replaceChildren(h('caption', {}, '请选择镇街'));
      return;
    }
    const recent = [...state.tasks]
      .filter((t) => t.dispatchedAt)
      .sort((a, b) => b.dispatchedAt.localeCompare(a.dispatchedAt))
      .slice(0, 20);
    tasksTable.replaceChildren(
      h('thead', {}, h('tr', {}, ...['任务', '条线', '派发', '截止', '待签收', '已签收', '办理中', '已提交', '已验收', '逾期', '退回'].map((t) => h('th', {}, t)))),
      h('tbody', {}, ...recent.map((t) => {
        const v = t.villages;
        return h('tr', { dataset: { task: t.task }, className: t.overdue ? 'late' : '' },
          h('td', {}, t.title),
          h('td', {}, t.category),
          h('td', {}, date(t.dispatchedAt)),
          h('td', {}, date(t.deadline)),
          h('td', { dataset: { col: 'issued' } }, v.issued),
          h('td', { dataset: { col: 'signed' } }, v.signed),
          h('td', { dataset: { col: 'inProgress' } }, v.inProgress),
          h('td', { dataset: { col: 'submitted' } }, v.submitted),
          h('td', { dataset: { col: 'accepted' } }, v.accepted),
          h('td', { dataset: { col: 'overdue' } }, t.overdue),
          h('td', {}, t.returns));
      })),
    );
  }

  function renderBoard(table, board, rows) {
    table.replaceChildren(
      h('thead', {}, h('tr', {}, h('th', {}, '名次'), h('th', {}, board === 'VILLAGES' ? '村社' : '干部'), h('th', {}, '工分'))),
      h('tbody', {}, ...rows.map((r) => h('tr', {
        dataset: { subject: r.subject },
        tabIndex: 0,
        onclick: () => showIndex(board, r),
      },
      h('td', {}, r.rank),
      h('td', {}, board === 'VILLAGES' ? r.name ?? r.subject : `${r.name ?? r.subject}(${r.villageName ?? ''})`),
      h('td', {}, r.points ? points(r.points.total) : '—')))),
    );
    if (!rows.length) table.append(h('caption', {}, '本周期暂无数据'));
  }

  async function showIndex(board, row) {
    indexTitle.textContent = `${row.name ?? row.subject} · ${periodSelect.value}`;
    try {
      const data = await client.request(LEADER_INDEX, { board, scope: me.scope, period: periodSelect.value });
      const found = data.leaderboard.find((r) => r.subject === row.subject)?.index;
      if (!found) {
        indexTitle.textContent += ':尚无领雁指数定义或评分';
        charts.index?.clear();
        return;
      }
      indexTitle.textContent += `:${(found.value / 100).toFixed(2)} 分(定义第${found.definitionVersion}版)`;
      charts.index?.setOption({
        tooltip: {},
        radar: { indicator: found.dimensions.map((d) => ({ name: `${d.name}×${d.weight}`, max: 100 })) },
        series: [{ type: 'radar', data: [{ name: row.name ?? row.subject, value: found.dimensions.map((d) => (d.score ?? 0) / 100) }] }],
      }, true);
    } catch (e) {
      fail(e);
    }
  }

  async function loadBoards() {
    const period = periodSelect.value;
    try {
      const [villages, cadres] = await Promise.all([
        client.request(LEADERBOARD, { board: 'VILLAGES', scope: me.scope, period }),
        client.request(LEADERBOARD, { board: 'CADRES', scope: me.scope, period }),
      ]);
      renderBoard(villagesBoard, 'VILLAGES', villages.leaderboard);
      renderBoard(cadresBoard, 'CADRES', cadres.leaderboard);
    } catch (e) {
      fail(e);
    }
  }

  /** The periods a board can be asked for: the month shown, its quarter, and every year since 2023. */
  function periodsFor(month) {
    const [y, m] = month.split('-');
    const q = Math.floor((Number(m) - 1) / 3) + 1;
    const years = [];
    for (let year = Number(thisMonth().slice(0, 4)); year >= 2023; year -= 1) years.push([String(year), `${year}年`]);
    const options = [[month, `${y}年${Number(m)}月`], [`${y}-Q${q}`, `${y}年第${q}季度`], ...years];
    periodSelect.replaceChildren(...options.map(([value, text]) => h('option', { value }, text)));
    periodSelect.value = y;
  }

  // ── live: the town's board and the feed ────────────────────────────────────
  let lastPosition = null;
  function addToFeed(e) {
    if (feed.firstChild?.classList?.contains('muted')) feed.replaceChildren();
    lastPosition = e.position;
    feed.prepend(h('li', { dataset: { position: e.position, type: e.eventType } },
      h('time', {}, dateTime(e.recordedAt).slice(5)), ' ',
      h('strong', {}, label(EVENT, e.eventType)), ' ',
      h('span.muted', {}, e.streamId.replace(/-[0-9a-f-]{20,}$/, ''))));
    while (feed.children.length > 50) feed.lastChild.remove();
  }
  stops.push(client.subscribe(EVENTS, () => ({ region: me.scope, after: lastPosition }), {
    next: ({ data, errors: errs }) => (data ? addToFeed(data.events) : fail({ message: errs?.[0]?.message })),
    error: fail,
  }));
  let stopTown = null;
  function followTown() {
    stopTown?.();
    stopTown = client.subscribe(TOWN_DASHBOARD_CHANGED, { town: state.town }, {
      next: ({ data }) => {
        if (!data) return;
        state.tasks = data.townDashboardChanged.tasks;
        renderTasks();
        renderKpis();
      },
      error: fail,
    });
  }
  stops.push(() => stopTown?.());

  async function loadTown() {
    if (!state.town) {
      state.tasks = [];
      renderTasks();
      renderKpis();
      return;
    }
    try {
      const data = await client.request(TOWN_DASHBOARD, { town: state.town });
      state.tasks = data.townDashboard.tasks;
      renderTasks();
      renderKpis();
      followTown();
    } catch (e) {
      fail(e);
    }
  }

  // ── start ──────────────────────────────────────────────────────────────────
  (async () => {
    try {
      const { region } = await client.request(REGION, { code: me.scope });
      state.level = region?.level;
      if (state.level === 'town') {
        state.town = me.scope;
      } else {
        // A county or the city: the dispatch board is a town's; choose one.
        const below = (await client.request(REGIONS, { parent: me.scope })).regions;
        const towns = state.level === 'county' ? below
          : (await Promise.all(below.map((c) => client.request(REGIONS, { parent: c.code }))))
            .flatMap((d) => d.regions);
        root.querySelector('#town-picker').hidden = false;
        townSelect.replaceChildren(h('option', { value: '' }, '(选择镇街)'),
          ...towns.map((t) => h('option', { value: t.code }, t.name)));
        townSelect.onchange = () => { state.town = townSelect.value || null; loadTown(); };
      }
      const now = thisMonth();
      const stats = (await client.request(SCREENING, { scope: me.scope, from: '2023-01', to: now, year: Number(now.slice(0, 4)) }));
      // The month shown first: this one, or the last month anything reached a village.
      const months = stats.screeningStatistics.reachedByMonth.filter((m) => m.assignments > 0).map((m) => m.month);
      state.month = months.includes(now) || !months.length ? now : months[months.length - 1];
      state.year = Number(state.month.slice(0, 4));
      state.stats = { ...stats.screeningStatistics, reduction: stats.taskReductionPercent };
      if (state.year !== Number(now.slice(0, 4))) {
        const again = await client.request(SCREENING, { scope: me.scope, from: '2023-01', to: now, year: state.year });
        state.stats.reduction = again.taskReductionPercent;
      }
      monthInput.value = state.month;
      periodsFor(state.month);
      renderReach();
      renderReasons();
      renderKpis();
      monthInput.onchange = () => {
        if (!monthInput.value) return;
        state.month = monthInput.value;
        periodsFor(state.month);
        renderReasons();
        renderKpis();
        loadBoards();
      };
      periodSelect.onchange = loadBoards;
      loadBoards();
      loadTown();
      const { compliantProcedures } = await client.request(COMPLIANT_PROCEDURES, { scope: me.scope, from: '2023-01-01', to: today() });
      state.procedures = compliantProcedures;
      renderKpis();
    } catch (e) {
      fail(e);
    }
  })();

  return () => {
    for (const stop of stops) stop();
    for (const c of Object.values(charts)) c?.dispose();
  };
}
