// Coffer's web app (docs/web-app.md): a hash-routed page over /api/v1.
// Every call carries the session cookie (HttpOnly: this script never holds
// a token); file bytes go straight to the store on presigned URLs.
//
//   #/files?path=/a/b&q=…&category=…&meta=key=value   a folder, or a search in it
//   #/file/{id}                                       one file
//   #/trash                                           the trash
//   #/admin                                           tenant administration (admins)

import { $, act, api, el, emptyRow, fileHref, folderHref, route, show, size, when } from './api.js';
import { uploadAll } from './upload.js';
import { renderFile, setAdmin } from './details.js';
import { renderAdmin } from './admin.js';

const VIEWS = ['files', 'trash', 'file', 'admin'];

// The folder view's state from the address.
function folderRoute() {
  const { params } = route();
  const meta = params.get('meta') ?? '';
  const split = meta.indexOf('=');
  return {
    path: params.get('path') || '/',
    q: params.get('q') || '',
    category: params.get('category') || '',
    metaKey: split > 0 ? meta.slice(0, split) : '',
    metaValue: split > 0 ? meta.slice(split + 1) : '',
  };
}

const filtered = (at) => Boolean(at.q || at.category || at.metaKey);

function crumbs(path) {
  const nav = $('crumbs');
  nav.replaceChildren(el('a', { href: folderHref('/') }, 'All files'));
  let at = '';
  for (const part of path.split('/').filter(Boolean)) {
    at += `/${part}`;
    nav.append(' / ', el('a', { href: folderHref(at) }, part));
  }
  nav.lastElementChild.setAttribute('aria-current', 'page');
}

// Sub-folders and categories of `path`, from the files below it.
async function places(at) {
  const below = await api('GET', `/api/v1/files?prefix=${encodeURIComponent(at.path)}&limit=1000`);
  const base = at.path === '/' ? '/' : `${at.path}/`;
  const names = new Set();
  const categories = new Set();
  for (const file of below.items) {
    categories.add(file.category);
    if (file.path !== at.path && file.path.startsWith(base)) names.add(file.path.slice(base.length).split('/')[0]);
  }
  $('folders').replaceChildren(...[...names].sort().map((name) =>
    el('li', {}, el('a', { href: folderHref(base + name) }, name))));
  $('category-chips').replaceChildren(...[...categories].sort().map((category) => {
    const link = el('a', { href: `${folderHref(at.path)}&category=${encodeURIComponent(category)}` }, category);
    if (category === at.category) link.setAttribute('aria-current', 'true');
    return el('li', {}, link);
  }));
  $('categories').replaceChildren(...[...categories].sort().map((category) => el('option', { value: category })));
}

// Files per page of the list.
const PAGE = 50;
let cursor = null;

async function listFiles(more = false) {
  const at = folderRoute();
  const body = $('list').tBodies[0];
  if (!more) { body.replaceChildren(); cursor = null; }
  const query = new URLSearchParams({ limit: String(PAGE) });
  if (filtered(at)) query.set('prefix', at.path); else query.set('path', at.path);
  if (at.q) query.set('q', at.q);
  if (at.category) query.set('category', at.category);
  if (at.metaKey) query.set('metadata', JSON.stringify({ [at.metaKey]: at.metaValue }));
  if (cursor) query.set('cursor', cursor);
  const page = await api('GET', `/api/v1/files?${query}`);
  const what = [at.q && `matching “${at.q}”`, at.category && `in category ${at.category}`, at.metaKey && `with ${at.metaKey} = ${at.metaValue}`].filter(Boolean);
  $('list-caption').textContent = what.length ? `Files in ${at.path} and below ${what.join(', ')}` : `Files in ${at.path}`;
  for (const file of page.items) body.append(fileRow(file, filtered(at)));
  if (!more && page.items.length === 0) body.append(emptyRow(4, filtered(at) ? 'No files match.' : 'No files here yet.'));
  // A short page is the last, whatever its cursor says.
  cursor = page.items.length < PAGE ? null : page.next_cursor;
  $('more').hidden = !cursor;
}

function fileRow(file, showFolder) {
  const rename = el('button', { type: 'button', onclick: () => renameFile(file) }, 'Rename');
  const trash = el('button', { type: 'button', onclick: () => act(() => api('DELETE', `/api/v1/files/${file.id}`), render) }, 'Move to trash');
  const download = el('a', { class: 'button', href: `/api/v1/files/${file.id}/download` }, 'Download');
  rename.setAttribute('aria-label', `Rename ${file.filename}`);
  trash.setAttribute('aria-label', `Move ${file.filename} to the trash`);
  download.setAttribute('aria-label', `Download ${file.filename}`);
  const name = el('td', { class: 'name' }, el('a', { href: fileHref(file.id) }, file.filename));
  if (showFolder) name.append(el('span', { class: 'fine' }, ` in ${file.path}`));
  return el('tr', { 'data-file': file.id },
    name,
    el('td', {}, size(file.size)),
    el('td', {}, when(file.updated_at ?? file.created_at)),
    el('td', { class: 'actions' }, download, rename, trash));
}

async function renameFile(file) {
  const name = prompt(`New name for ${file.filename}`, file.filename);
  if (!name || name === file.filename) return;
  await act(() => api('PATCH', `/api/v1/files/${file.id}`, { filename: name }), render);
}

async function renderFiles() {
  const at = folderRoute();
  crumbs(at.path);
  $('q').value = at.q;
  $('category').value = at.category;
  $('meta-key').value = at.metaKey;
  $('meta-value').value = at.metaValue;
  await Promise.all([places(at), listFiles()]);
}

async function renderTrash() {
  const body = $('trash-list').tBodies[0];
  body.replaceChildren();
  const page = await api('GET', '/api/v1/files?status=deleted&limit=200');
  for (const file of page.items) {
    const restore = el('button', {
      type: 'button',
      onclick: () => act(() => api('POST', `/api/v1/files/${file.id}/restore`), render),
    }, 'Restore');
    restore.setAttribute('aria-label', `Restore ${file.filename}`);
    body.append(el('tr', { 'data-file': file.id },
      el('td', {}, file.filename), el('td', {}, file.path), el('td', { class: 'actions' }, restore)));
  }
  if (page.items.length === 0) body.append(emptyRow(3, 'The trash is empty.'));
}

let lastView = null;

async function render() {
  const { view, rest } = route();
  const shown = VIEWS.includes(view) ? view : 'files';
  for (const name of VIEWS) $(name).hidden = name !== shown;
  for (const link of document.querySelectorAll('#nav a')) {
    if (link.getAttribute('href') === `#/${shown}`) link.setAttribute('aria-current', 'page');
    else link.removeAttribute('aria-current');
  }
  try {
    if (shown === 'trash') await renderTrash();
    else if (shown === 'file') await renderFile(rest);
    else if (shown === 'admin') await renderAdmin();
    else await renderFiles();
  } catch (error) {
    show(error);
  }
  // A new page moves the focus to its content, as a page load would.
  if (lastView !== null && (shown !== lastView || shown === 'file')) $('main').focus();
  lastView = shown;
}

// A reload after the access token expired renews it first (when the
// issuer gave a refresh token) rather than ask to sign in again.
async function start(renewed = false) {
  const response = await fetch('/app/session', { headers: { accept: 'application/json' } });
  if (response.status === 401 && !renewed) {
    const refreshed = await fetch('/app/session/refresh', { method: 'POST' });
    if (refreshed.ok) return start(true);
  }
  if (response.status === 401) {
    $('sign-in').href = `/app/sign-in?return=${encodeURIComponent(`/${location.hash}`)}`;
    $('signed-out').hidden = false;
    return;
  }
  const session = await response.json();
  const admin = session.roles.includes('admin');
  setAdmin(admin);
  $('who').textContent = `${session.subject}${session.tenant ? ` · ${session.tenant.display_name}` : ''}`;
  $('sign-out').hidden = false;
  $('nav').hidden = false;
  $('nav-admin').hidden = !admin;
  addEventListener('hashchange', () => { show(null); render(); });
  await render();
}

// At a phone's width the tables fold into one block per row: each cell
// then carries its column's name (shown by the stylesheet), kept up to
// date as rows come and go.
function labelCells() {
  for (const table of document.querySelectorAll('main table')) {
    const names = [...table.tHead.rows[0].cells].map((cell) => cell.textContent);
    for (const row of table.tBodies[0].rows) {
      if (row.cells.length !== names.length) continue;
      [...row.cells].forEach((cell, i) => { if (!cell.dataset.label) cell.dataset.label = names[i]; });
    }
  }
}
new MutationObserver(labelCells).observe($('main'), { childList: true, subtree: true });

$('sign-out').addEventListener('click', async () => {
  const response = await fetch('/app/sign-out', { method: 'POST' });
  const next = await response.json();
  location.assign(next.redirect);
});

$('search').addEventListener('submit', (event) => {
  event.preventDefault();
  const query = new URLSearchParams({ path: folderRoute().path });
  const q = $('q').value.trim();
  const category = $('category').value.trim();
  const key = $('meta-key').value.trim();
  if (q) query.set('q', q);
  if (category) query.set('category', category);
  if (key) query.set('meta', `${key}=${$('meta-value').value}`);
  location.hash = `#/files?${query}`;
});

$('clear').addEventListener('click', () => { location.hash = folderHref(folderRoute().path); });

$('more').addEventListener('click', () => listFiles(true).catch(show));

async function send(files) {
  const category = $('upload-category').value.trim();
  await uploadAll(files, folderRoute().path, category);
  await render();
}

$('pick').addEventListener('change', (event) => {
  const files = [...event.target.files];
  event.target.value = '';
  send(files);
});
const drop = $('drop');
drop.addEventListener('dragover', (event) => { event.preventDefault(); drop.classList.add('over'); });
drop.addEventListener('dragleave', () => drop.classList.remove('over'));
drop.addEventListener('drop', (event) => {
  event.preventDefault();
  drop.classList.remove('over');
  send(event.dataTransfer.files);
});

start();
