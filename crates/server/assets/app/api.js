// What every page of the app shares: calls to /api/v1 with the session
// cookie (HttpOnly: this script never holds a token), problems shown from
// problem+json `detail`, and small DOM helpers.

export const $ = (id) => document.getElementById(id);

export class Problem extends Error {
  constructor(status, body) {
    super(body?.detail ?? body?.title ?? `request failed (${status})`);
    this.status = status;
    this.code = body?.code;
  }
}

// Several calls in flight may all meet the ended session: the first one
// navigates, the others must not abort its navigation with one of their own.
let signingIn = false;

export function signIn() {
  if (signingIn) return;
  signingIn = true;
  location.assign(`/app/sign-in?return=${encodeURIComponent(`/${location.hash}`)}`);
}

// A call to the API; on 401 the session is refreshed once, then sign-in.
export async function api(method, path, body, retried = false) {
  const init = { method, headers: { accept: 'application/json' } };
  if (body !== undefined) {
    init.headers['content-type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  const response = await fetch(path, init);
  if (response.status === 401 && !retried) {
    const refreshed = await fetch('/app/session/refresh', { method: 'POST' });
    if (refreshed.ok) return api(method, path, body, true);
    signIn();
    throw new Problem(401, { detail: 'Your session has ended.' });
  }
  const text = await response.text();
  let json = null;
  try { json = text ? JSON.parse(text) : null; } catch { json = null; }
  if (!response.ok) throw new Problem(response.status, json);
  return json;
}

// The problem above the page (role="alert"), or none.
export function show(error) {
  const box = $('problem');
  box.textContent = error ? error.message : '';
  box.hidden = !error;
}

// Runs a change; shows its problem, or runs `then` after it.
export async function act(change, then) {
  try {
    show(null);
    await change();
    if (then) await then();
  } catch (error) {
    show(error);
  }
}

export function el(tag, attributes = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attributes)) {
    if (value === undefined || value === null) continue;
    if (key.startsWith('on')) node.addEventListener(key.slice(2), value);
    else node.setAttribute(key, value);
  }
  node.append(...children.filter((child) => child !== undefined && child !== null));
  return node;
}

export const size = (bytes) => {
  if (bytes < 1000) return `${bytes} B`;
  const units = ['kB', 'MB', 'GB', 'TB'];
  let value = bytes / 1000;
  let unit = 0;
  while (value >= 1000 && unit < units.length - 1) { value /= 1000; unit += 1; }
  return `${value.toFixed(1)} ${units[unit]}`;
};

export const when = (iso) => (iso ? new Date(iso).toLocaleString() : '—');

// A term list (`<dl>`) from [term, value] pairs.
export function facts(list, pairs) {
  list.replaceChildren();
  for (const [term, value] of pairs) {
    list.append(el('dt', {}, term), el('dd', {}, value === undefined || value === null || value === '' ? '—' : String(value)));
  }
}

// A table body's one row saying there is nothing to show.
export const emptyRow = (columns, text) => el('tr', { class: 'empty' }, el('td', { colspan: String(columns) }, text));

// `#/view/rest?query`: the view, what follows it, and the query.
export function route() {
  const [head, query] = location.hash.replace(/^#\/?/, '').split('?');
  const [view, ...rest] = head.split('/');
  return { view: view || 'files', rest: rest.join('/'), params: new URLSearchParams(query ?? '') };
}

export const folderHref = (path) => `#/files?path=${encodeURIComponent(path)}`;
export const fileHref = (id) => `#/file/${id}`;

// A date input's day as the end of that day, UTC (RFC 3339).
export const endOfDay = (day) => (day ? new Date(`${day}T23:59:59Z`).toISOString() : undefined);
