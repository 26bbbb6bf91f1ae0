// The page: sign in with a token (kept in sessionStorage, gone when the tab closes), ask
// the server who that is (`me`), and show the views the person's role is for. Nothing is
// fetched for a region outside the person's scope: each view starts from `me.scope`.

import { createClient } from './graphql.js';
import { ME } from './operations.js';
import { h, errorBox } from './ui.js';
import { renderSignIn } from './sign-in.js';
import { renderTownCockpit } from './town-cockpit.js';
import { renderVillageBoard } from './village-board.js';
import { renderAudit } from './audit.js';

const TOKEN_KEY = 'xingcun.token';

const VIEWS = {
  cockpit: { title: '驾驶舱', render: renderTownCockpit },
  board: { title: '村务看板', render: renderVillageBoard },
  audit: { title: '审计回放', render: renderAudit },
};

/** Which views a role is for, the first being where the person lands. */
function viewsFor(role) {
  switch (role) {
    case 'village_secretary':
    case 'village_cadre':
    case 'grid_leader':
      return ['board'];
    case 'auditor':
      return ['audit', 'cockpit'];
    case 'administrator':
      return ['cockpit', 'audit'];
    default:
      return ['cockpit'];
  }
}

const main = document.getElementById('main');
const nav = document.getElementById('nav');
const who = document.getElementById('who');
const live = document.getElementById('live');
const signOut = document.getElementById('sign-out');

let session = null; // { client, me, views, cleanup }

function showSignIn(message) {
  session?.client.close();
  session = null;
  nav.replaceChildren();
  who.textContent = '';
  live.hidden = true;
  signOut.hidden = true;
  renderSignIn(main, { message, onToken: start });
}

async function start(token) {
  const client = createClient(token);
  let me;
  try {
    ({ me } = await client.request(ME));
  } catch (e) {
    client.close();
    sessionStorage.removeItem(TOKEN_KEY);
    const message = e.code === 'UNAUTHENTICATED'
      ? '令牌无效、已过期或已撤销,请重新输入'
      : e.message;
    showSignIn(message);
    return;
  }
  sessionStorage.setItem(TOKEN_KEY, token);
  session = { client, me, views: viewsFor(me.role), cleanup: null };
  who.textContent = `${me.name} · ${me.roleTitle} · ${me.scopeName ?? me.scope}`;
  signOut.hidden = false;
  live.hidden = false;
  client.onStatus((state, detail) => {
    live.dataset.state = state;
    live.textContent = { open: '● 实时', connecting: '○ 连接中', reconnecting: '○ 重连中', refused: detail }[state] ?? state;
    if (state === 'refused') showSignIn(detail);
  });
  nav.replaceChildren(
    ...session.views.map((v) => h('a', { href: `#${v}`, dataset: { view: v } }, VIEWS[v].title)),
  );
  route();
}

function route() {
  if (!session) return;
  const wanted = location.hash.slice(1);
  const view = session.views.includes(wanted) ? wanted : session.views[0];
  for (const a of nav.querySelectorAll('a')) a.classList.toggle('current', a.dataset.view === view);
  session.cleanup?.();
  main.replaceChildren();
  main.dataset.view = view;
  try {
    session.cleanup = VIEWS[view].render(main, { client: session.client, me: session.me });
  } catch (e) {
    main.append(errorBox(e));
  }
}

window.addEventListener('hashchange', route);
signOut.addEventListener('click', () => {
  sessionStorage.removeItem(TOKEN_KEY);
  showSignIn();
});

const saved = sessionStorage.getItem(TOKEN_KEY);
if (saved) start(saved);
else showSignIn();
