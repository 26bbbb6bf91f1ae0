// Small helpers shared by the views: building elements, Chinese labels, dates in
// Asia/Shanghai (the users' time zone), SHA-256 of a file.

/** An element: `h('div.card', {onclick}, child, 'text', …)`. */
export function h(tag, attrs = {}, ...children) {
  const [name, ...classes] = tag.split('.');
  const el = document.createElement(name);
  if (classes.length) el.className = classes.join(' ');
  for (const [k, v] of Object.entries(attrs ?? {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
    else if (k === 'dataset') Object.assign(el.dataset, v);
    else if (k in el && k !== 'list') el[k] = v;
    else el.setAttribute(k, v === true ? '' : v);
  }
  for (const c of children.flat()) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

/** A message where the person will see it: an API error's own (Chinese) message. */
export function errorBox(error) {
  const text = error?.message || '发生错误';
  return h('p.error', { role: 'alert' }, text);
}

const SHANGHAI = 'Asia/Shanghai';

/** `2025-03-05 14:30` in Asia/Shanghai. */
export function dateTime(iso) {
  if (!iso) return '';
  const d = new Date(iso);
  const p = Object.fromEntries(
    new Intl.DateTimeFormat('zh-CN', {
      timeZone: SHANGHAI, year: 'numeric', month: '2-digit', day: '2-digit',
      hour: '2-digit', minute: '2-digit', hourCycle: 'h23',
    }).formatToParts(d).map((x) => [x.type, x.value]),
  );
  return `${p.year}-${p.month}-${p.day} ${p.hour}:${p.minute}`;
}

export function date(iso) {
  return dateTime(iso).slice(0, 10);
}

/** `YYYY-MM` of an instant, in Asia/Shanghai. */
export function monthOf(iso) {
  return dateTime(iso).slice(0, 7);
}

export function thisMonth() {
  return monthOf(new Date().toISOString());
}

export function today() {
  return date(new Date().toISOString());
}

export const STATUS = {
  issued: '待签收', signed: '已签收', assigned: '已分派', in_progress: '办理中',
  submitted: '已提交', accepted: '已验收', returned: '退回整改', withdrawn: '已撤回',
  draft: '草稿', screened: '已过筛', approved: '已审核', dispatched: '已派发',
  rejected: '过筛未通过', completed: '已完成', running: '进行中', open: '进行中',
};

export const REJECTION_REASON = {
  missing_code: '缺少过筛码', unknown_code: '不在事项清单', wrong_level: '非村级事项',
  barred: '禁入事项', retired: '已退出清单', not_duty: '非村级职责',
};

export const EVENT = {
  TaskDrafted: '起草任务', TaskRevised: '修改任务', TaskApproved: '审核通过', TaskReturned: '任务退回',
  TaskScreeningRejected: '过筛拦截', TaskDispatched: '派发任务', TaskWithdrawn: '撤回任务',
  TaskCollectiveDecisionRecorded: '党委集体研究', TaskDuplicateDispatchFlagged: '多头派单提示',
  DuplicateDispatchFlagged: '多头派单提示',
  TaskReceived: '任务入村台账', DispatchReleased: '派单释放', AssignmentIssued: '任务到村', AssignmentSigned: '村社签收', AssignmentAssigned: '分派办理',
  AssignmentProgressReported: '进度报告', AssignmentSubmitted: '提交佐证', AssignmentAccepted: '验收通过',
  AssignmentReturned: '退回整改', AssignmentWithdrawn: '任务撤回',
  ProcedureStarted: '启动决策程序', ProcedureStepRecorded: '程序步骤', ProcedureStepReturned: '程序步骤退回',
  ProcedurePublicityPosted: '公开公示', ProcedureCompleted: '程序办结', ProcedureRejected: '程序否决',
  ProcedureRulesSet: '程序规则', ListingPosted: '发榜', BidSubmitted: '竞榜', BidRevised: '修改竞榜',
  BidWithdrawn: '撤回竞榜', ComparisonRecorded: '比选会', ListingAwarded: '揭榜', MilestoneReported: '里程碑',
  CompletionAccepted: '项目验收', ListingCancelled: '撤榜', PraiseGiven: '表扬加分', PraiseWithdrawn: '撤回表扬',
  RegionRegistered: '登记区域', VillageRegistered: '登记村社', GridRegistered: '登记网格',
  CadreAppointed: '干部任职', CadreDeparted: '干部离任', MatterAdded: '新增事项', MatterRevised: '修订事项',
  MatterRetired: '事项退出', IndexDefinitionPublished: '发布领雁指数', DimensionScoresRecorded: '领雁指数评分',
};

export const label = (table, key) => table[key] ?? key;

/** The SHA-256 of a file chosen in the page, as 64 hex digits. */
export async function sha256Hex(file) {
  const digest = await crypto.subtle.digest('SHA-256', await file.arrayBuffer());
  return [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, '0')).join('');
}

/** An ECharts chart in `el`, resized with the window; `null` if ECharts did not load. */
export function chart(el) {
  if (!window.echarts) {
    el.append(h('p.muted', {}, '图表库未加载'));
    return null;
  }
  const c = window.echarts.init(el, null, { renderer: 'canvas' });
  new ResizeObserver(() => c.resize()).observe(el);
  return c;
}

/** Points are kept in hundredths. */
export const points = (hundredths) => (hundredths / 100).toFixed(hundredths % 100 ? 2 : 0);
