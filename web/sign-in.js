// Sign-in: paste a token (`xingcun token create --person …`). Under `serve --demo` the
// server offers the demo's tokens at /demo-tokens (an empty list otherwise) and they are listed here.

import { h } from './ui.js';

export function renderSignIn(root, { message, onToken }) {
  const input = h('input', {
    id: 'token',
    type: 'password', name: 'token', autocomplete: 'off', placeholder: 'xc_…', required: true,
    'aria-label': '令牌',
  });
  const form = h('form.card.sign-in', {
    onsubmit: (e) => {
      e.preventDefault();
      const token = input.value.trim();
      if (token) onToken(token);
    },
  },
  h('h1', {}, '登录兴村驾驶舱'),
  h('p.muted', {}, '请输入管理员为您生成的令牌(xingcun token create)。令牌只保存在本标签页中,关闭即失效。'),
  message ? h('p.error', { role: 'alert' }, message) : null,
  h('label', {}, '令牌 ', input),
  h('button', { type: 'submit' }, '登录'));
  const demo = h('div.demo');
  root.replaceChildren(form, demo);
  input.focus();

  fetch('/demo-tokens').then((r) => (r.ok ? r.json() : [])).then((tokens) => {
    if (!tokens.length) return;
    demo.append(
      h('h2', {}, '演示账号(serve --demo)'),
      ...tokens.map((t) => h('button.demo-token', {
        type: 'button',
        dataset: { role: t.title },
        onclick: () => onToken(t.token),
      }, `${t.title} ${t.name}`)),
    );
  }).catch(() => {});
}
