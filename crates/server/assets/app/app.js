// Coffer's web app (docs/web-app.md). Every call goes to /api/v1 with the
// session cookie: it is HttpOnly, so this script never holds a token. File
// bytes go straight to the store on the presigned URLs the API hands out.

const $ = (id) => document.getElementById(id);
const problemBox = $('problem');

class Problem extends Error {
  constructor(status, body) {
    super(body?.detail ?? body?.title ?? `request failed (${status})`);
    this.status = status;
    this.code = body?.code;
  }
}

function signIn() {
  location.assign(`/app/sign-in?return=${encodeURIComponent(`/${location.hash}`)}`);
}

// A call to the API; on 401 the session is refreshed once, then sign-in.
async function api(method, path, body, retried = false) {
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
  const json = text ? JSON.parse(text) : null;
  if (!response.ok) throw new Problem(response.status, json);
  return json;
}

function show(error) {
  problemBox.textContent = error ? error.message : '';
  problemBox.hidden = !error;
}

function el(tag, attributes = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attributes)) {
    if (key.startsWith('on')) node.addEventListener(key.slice(2), value);
    else node.setAttribute(key, value);
  }
  node.append(...children);
  return node;
}

const size = (bytes) => {
  if (bytes < 1000) return `${bytes} B`;
  const units = ['kB', 'MB', 'GB', 'TB'];
  let value = bytes / 1000;
  let unit = 0;
  while (value >= 1000 && unit < units.length - 1) { value /= 1000; unit += 1; }
  return `${value.toFixed(1)} ${units[unit]}`;
};

const when = (iso) => new Date(iso).toLocaleString();

// The folder shown: `#/files?path=/a/b`.
function route() {
  const [view, query] = location.hash.replace(/^#\/?/, '').split('?');
  const params = new URLSearchParams(query ?? '');
  return { view: view || 'files', path: params.get('path') || '/', q: params.get('q') || '' };
}

const folderHref = (path) => `#/files?path=${encodeURIComponent(path)}`;

function crumbs(path) {
  const nav = $('crumbs');
  nav.replaceChildren(el('a', { href: folderHref('/') }, 'All files'));
  let at = '';
  for (const part of path.split('/').filter(Boolean)) {
    at += `/${part}`;
    nav.append(' / ', el('a', { href: folderHref(at) }, part));
  }
}

// Sub-folders of `path`, from the paths of the files below it.
async function folders(path) {
  const list = $('folders');
  list.replaceChildren();
  const below = await api('GET', `/api/v1/files?prefix=${encodeURIComponent(path)}&limit=1000`);
  const base = path === '/' ? '/' : `${path}/`;
  const names = new Set();
  for (const file of below.items) {
    if (file.path !== path && file.path.startsWith(base)) names.add(file.path.slice(base.length).split('/')[0]);
  }
  for (const name of [...names].sort()) {
    list.append(el('li', {}, el('a', { href: folderHref(base + name) }, `📁 ${name}`)));
  }
}

let cursor = null;

async function listFiles(more = false) {
  const { path, q } = route();
  const body = $('list').tBodies[0];
  if (!more) { body.replaceChildren(); cursor = null; }
  const query = new URLSearchParams({ limit: '50' });
  if (q) { query.set('prefix', path); query.set('q', q); } else query.set('path', path);
  if (cursor) query.set('cursor', cursor);
  const page = await api('GET', `/api/v1/files?${query}`);
  $('list-caption').textContent = q ? `Files matching “${q}”` : `Files in ${path}`;
  for (const file of page.items) body.append(fileRow(file));
  if (!more && page.items.length === 0) body.append(el('tr', {}, el('td', { colspan: '4' }, 'No files here yet.')));
  cursor = page.next_cursor;
  $('more').hidden = !cursor;
}

function fileRow(file) {
  const rename = el('button', { type: 'button', onclick: () => renameFile(file) }, 'Rename');
  const trash = el('button', { type: 'button', onclick: () => trashFile(file) }, 'Move to trash');
  const download = el('a', { class: 'button', href: `/api/v1/files/${file.id}/download` }, 'Download');
  rename.setAttribute('aria-label', `Rename ${file.filename}`);
  trash.setAttribute('aria-label', `Move ${file.filename} to the trash`);
  download.setAttribute('aria-label', `Download ${file.filename}`);
  return el('tr', { 'data-file': file.id },
    el('td', {}, file.filename),
    el('td', {}, size(file.size)),
    el('td', {}, when(file.updated_at ?? file.created_at)),
    el('td', { class: 'actions' }, download, rename, trash));
}

async function renameFile(file) {
  const name = prompt(`New name for ${file.filename}`, file.filename);
  if (!name || name === file.filename) return;
  await act(() => api('PATCH', `/api/v1/files/${file.id}`, { filename: name }));
}

async function trashFile(file) {
  await act(() => api('DELETE', `/api/v1/files/${file.id}`));
}

async function restoreFile(file) {
  await act(() => api('POST', `/api/v1/files/${file.id}/restore`));
}

async function act(change) {
  try {
    show(null);
    await change();
    await render();
  } catch (error) {
    show(error);
  }
}

// One file: initiate, PUT straight to the store with the headers the
// presigned URL binds (progress from the upload's events), complete.
async function upload(file) {
  const bar = el('progress', { max: String(file.size || 1), value: '0' });
  const state = el('span', {}, 'starting…');
  bar.setAttribute('aria-label', `Upload of ${file.name}`);
  $('uploads').append(el('li', {}, el('span', {}, file.name), bar, state));
  try {
    const started = await api('POST', '/api/v1/files', {
      filename: file.name,
      size: file.size,
      path: route().path,
      ...(file.type ? { content_type: file.type } : {}),
    });
    if (!started.upload) throw new Error('this file needs a multipart upload, which the app does not do yet');
    state.textContent = 'uploading…';
    await put(started.upload, file, (sent) => { bar.value = sent; });
    state.textContent = 'checking…';
    const done = await api('POST', `/api/v1/files/${started.file.id}/complete`);
    bar.value = bar.max;
    state.textContent = done.status === 'available' ? 'done' : done.status;
  } catch (error) {
    state.textContent = `failed: ${error.message}`;
  }
}

function put(target, file, progress) {
  return new Promise((resolve, reject) => {
    const request = new XMLHttpRequest();
    request.open(target.method ?? 'PUT', target.url);
    for (const [name, value] of Object.entries(target.headers ?? {})) {
      // The browser sets the length itself.
      if (name.toLowerCase() !== 'content-length') request.setRequestHeader(name, value);
    }
    request.upload.addEventListener('progress', (event) => progress(event.loaded));
    request.addEventListener('load', () => (request.status < 300
      ? resolve()
      : reject(new Error(`the store refused the bytes (${request.status})`))));
    request.addEventListener('error', () => reject(new Error('the store could not be reached')));
    request.send(file);
  });
}

async function uploadAll(files) {
  await Promise.all([...files].map(upload));
  await render();
}

async function renderTrash() {
  const body = $('trash-list').tBodies[0];
  body.replaceChildren();
  const page = await api('GET', '/api/v1/files?status=deleted&limit=200');
  for (const file of page.items) {
    const restore = el('button', { type: 'button', onclick: () => restoreFile(file) }, 'Restore');
    restore.setAttribute('aria-label', `Restore ${file.filename}`);
    body.append(el('tr', { 'data-file': file.id },
      el('td', {}, file.filename), el('td', {}, file.path), el('td', { class: 'actions' }, restore)));
  }
  if (page.items.length === 0) body.append(el('tr', {}, el('td', { colspan: '3' }, 'The trash is empty.')));
}

async function render() {
  const { view, path, q } = route();
  $('files').hidden = view !== 'files';
  $('trash').hidden = view !== 'trash';
  try {
    if (view === 'trash') {
      await renderTrash();
    } else {
      crumbs(path);
      $('q').value = q;
      await Promise.all([folders(path), listFiles()]);
    }
  } catch (error) {
    show(error);
  }
}

async function start() {
  const response = await fetch('/app/session', { headers: { accept: 'application/json' } });
  if (response.status === 401) {
    $('sign-in').href = `/app/sign-in?return=${encodeURIComponent(`/${location.hash}`)}`;
    $('signed-out').hidden = false;
    return;
  }
  const session = await response.json();
  $('who').textContent = `${session.subject}${session.tenant ? ` · ${session.tenant.display_name}` : ''}`;
  $('sign-out').hidden = false;
  $('nav').hidden = false;
  addEventListener('hashchange', () => { show(null); render(); });
  await render();
}

$('sign-out').addEventListener('click', async () => {
  const response = await fetch('/app/sign-out', { method: 'POST' });
  const next = await response.json();
  location.assign(next.redirect);
});

$('search').addEventListener('submit', (event) => {
  event.preventDefault();
  const { path } = route();
  const q = $('q').value.trim();
  location.hash = `#/files?path=${encodeURIComponent(path)}${q ? `&q=${encodeURIComponent(q)}` : ''}`;
});

$('more').addEventListener('click', () => listFiles(true).catch(show));
$('pick').addEventListener('change', (event) => { uploadAll(event.target.files); event.target.value = ''; });
const drop = $('drop');
drop.addEventListener('dragover', (event) => { event.preventDefault(); drop.classList.add('over'); });
drop.addEventListener('dragleave', () => drop.classList.remove('over'));
drop.addEventListener('drop', (event) => {
  event.preventDefault();
  drop.classList.remove('over');
  uploadAll(event.dataTransfer.files);
});

start();
