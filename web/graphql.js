// The page's GraphQL client: queries and mutations over HTTP (POST /graphql), and
// subscriptions over one WebSocket speaking graphql-transport-ws (connection_init with the
// token, subscribe, next, error, complete, ping/pong). Reconnects with a growing pause; a
// subscription may give its variables as a function, called again on each reconnection
// (the live feed resumes after the last position it saw).

/** An error answered by the API, with its `extensions.code`. */
export class ApiError extends Error {
  constructor(errors) {
    super(errors.map((e) => e.message).join(';'));
    this.errors = errors;
    this.code = errors[0]?.extensions?.code ?? 'INTERNAL';
  }
}

export function createClient(token) {
  const socket = new Socket(token);
  return {
    async request(query, variables = {}) {
      let response;
      try {
        response = await fetch('/graphql', {
          method: 'POST',
          headers: {
            'Content-Type': 'application/json',
            Accept: 'application/json',
            Authorization: `Bearer ${token}`,
          },
          body: JSON.stringify({ query, variables }),
        });
      } catch {
        throw new ApiError([{ message: '无法连接服务器,请检查网络后重试', extensions: { code: 'UNAVAILABLE' } }]);
      }
      let body;
      try {
        body = await response.json();
      } catch {
        throw new ApiError([{ message: `服务器返回异常(HTTP ${response.status})`, extensions: { code: 'INTERNAL' } }]);
      }
      if (body.errors?.length) throw new ApiError(body.errors);
      return body.data;
    },
    subscribe: (query, variables, handlers) => socket.subscribe(query, variables, handlers),
    onStatus: (fn) => socket.statusListeners.add(fn),
    close: () => socket.close(),
  };
}

class Socket {
  constructor(token) {
    this.token = token;
    this.subscriptions = new Map();
    this.statusListeners = new Set();
    this.nextId = 1;
    this.pause = 500;
    this.ws = null;
    this.acked = false;
    this.closed = false;
  }

  status(state, detail) {
    for (const fn of this.statusListeners) fn(state, detail);
  }

  open() {
    if (this.ws || this.closed) return;
    const url = `${location.origin.replace(/^http/, 'ws')}/graphql`;
    const ws = new WebSocket(url, 'graphql-transport-ws');
    this.ws = ws;
    this.status('connecting');
    ws.onopen = () => {
      ws.send(JSON.stringify({ type: 'connection_init', payload: { Authorization: `Bearer ${this.token}` } }));
    };
    ws.onmessage = (event) => {
      const message = JSON.parse(event.data);
      switch (message.type) {
        case 'connection_ack':
          this.acked = true;
          this.pause = 500;
          this.status('open');
          for (const id of this.subscriptions.keys()) this.start(id);
          break;
        case 'ping':
          ws.send(JSON.stringify({ type: 'pong' }));
          break;
        case 'next':
          this.subscriptions.get(message.id)?.handlers.next?.(message.payload);
          break;
        case 'error':
          this.subscriptions.get(message.id)?.handlers.error?.(new ApiError(message.payload));
          this.subscriptions.delete(message.id);
          break;
        case 'complete':
          this.subscriptions.get(message.id)?.handlers.complete?.();
          this.subscriptions.delete(message.id);
          break;
        default:
          break;
      }
    };
    ws.onclose = (event) => {
      this.ws = null;
      this.acked = false;
      if (this.closed) return;
      if (event.code === 4401 || event.code === 4403) {
        this.status('refused', '令牌已失效,请重新登录');
        return;
      }
      this.status('reconnecting');
      setTimeout(() => this.open(), this.pause);
      this.pause = Math.min(this.pause * 2, 10_000);
    };
  }

  start(id) {
    const sub = this.subscriptions.get(id);
    const variables = typeof sub.variables === 'function' ? sub.variables() : sub.variables;
    this.ws.send(JSON.stringify({ id, type: 'subscribe', payload: { query: sub.query, variables } }));
  }

  /** Subscribe; returns the function that ends the subscription. */
  subscribe(query, variables, handlers) {
    const id = String(this.nextId++);
    this.subscriptions.set(id, { query, variables, handlers });
    if (this.acked) this.start(id);
    else this.open();
    return () => {
      if (this.subscriptions.delete(id) && this.acked) {
        this.ws.send(JSON.stringify({ id, type: 'complete' }));
      }
    };
  }

  close() {
    this.closed = true;
    this.subscriptions.clear();
    this.ws?.close(1000);
  }
}
