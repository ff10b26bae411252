// One file's page (`#/file/{id}`): what it is, its metadata, rename and
// move, versions and retention when it has them, who it is shared with
// (grants), its share links, and (for admins) its audit trail.

import { $, act, api, el, emptyRow, endOfDay, facts, folderHref, size, when } from './api.js';

let current = null;
let isAdmin = false;

export function setAdmin(admin) { isAdmin = admin; }

const forbidden = (error) => error.status === 403;

export async function renderFile(id) {
  $('link-made').hidden = true;
  const file = await api('GET', `/api/v1/files/${id}`);
  current = file;
  $('file-name').textContent = file.filename;
  $('file-back').href = folderHref(file.path);
  const actions = $('file-actions');
  const download = el('a', { class: 'button', href: `/api/v1/files/${file.id}/download` }, 'Download');
  download.setAttribute('aria-label', `Download ${file.filename}`);
  const trash = el('button', {
    type: 'button',
    onclick: () => act(() => api('DELETE', `/api/v1/files/${file.id}`), () => { location.hash = folderHref(file.path); }),
  }, 'Move to trash');
  actions.replaceChildren(...(file.status === 'available' ? [download, ' ', trash] : []));
  facts($('file-facts'), [
    ['Folder', file.path],
    ['Category', file.category],
    ['Type', file.content_type],
    ['Size', size(file.size)],
    ['Status', file.status],
    ['Owner', file.owner],
    ['Visible to', file.visibility === 'tenant' ? 'every member' : 'the owner and those it is shared with'],
    ['Version', file.version],
    ['Created', when(file.created_at)],
    ['Changed', when(file.updated_at)],
    ['SHA-256', file.checksum_sha256],
  ]);
  metadata(file);
  $('move-name').value = file.filename;
  $('move-path').value = file.path;
  await Promise.all([versions(file), retention(file), grants(file), links(file), trail(file)]);
}

// The file's metadata, each key removable (a merge patch with null).
function metadata(file) {
  const list = $('file-metadata');
  const entries = Object.entries(file.metadata ?? {});
  list.replaceChildren();
  for (const [key, value] of entries) {
    const remove = el('button', {
      type: 'button',
      class: 'small',
      onclick: () => act(() => api('PATCH', `/api/v1/files/${file.id}`, { metadata: { [key]: null } }), () => renderFile(file.id)),
    }, 'Remove');
    remove.setAttribute('aria-label', `Remove the metadata ${key}`);
    list.append(el('dt', {}, key), el('dd', {}, typeof value === 'string' ? value : JSON.stringify(value), ' ', remove));
  }
  if (entries.length === 0) list.append(el('dd', {}, 'No metadata.'));
}

async function versions(file) {
  const body = $('versions').tBodies[0];
  body.replaceChildren();
  let list;
  try {
    list = await api('GET', `/api/v1/files/${file.id}/versions`);
  } catch (error) {
    $('versions-card').hidden = true;
    if (!forbidden(error) && error.status !== 404) throw error;
    return;
  }
  $('versions-card').hidden = list.items.length < 2;
  for (const version of list.items) {
    const download = el('a', { class: 'button', href: `/api/v1/files/${file.id}/versions/${version.version}/download` }, 'Download');
    download.setAttribute('aria-label', `Download version ${version.version}`);
    const restore = version.current ? el('span', { class: 'fine' }, 'current') : el('button', {
      type: 'button',
      onclick: () => act(() => api('POST', `/api/v1/files/${file.id}/versions/${version.version}/restore`), () => renderFile(file.id)),
    }, 'Make current');
    body.append(el('tr', {},
      el('td', {}, String(version.version)),
      el('td', {}, size(version.size)),
      el('td', {}, when(version.uploaded_at)),
      el('td', {}, version.uploaded_by ?? '—'),
      el('td', { class: 'actions' }, download, restore)));
  }
}

async function retention(file) {
  const held = file.legal_hold === true || (Array.isArray(file.legal_holds) && file.legal_holds.length > 0);
  $('retention-card').hidden = !file.retention && !held;
  if ($('retention-card').hidden) return;
  facts($('retention'), [
    ['Retention', file.retention ? `${file.retention.mode} until ${when(file.retention.retain_until)}` : 'none'],
    ['Legal hold', held ? 'yes — it cannot be removed while held' : 'no'],
  ]);
  const list = $('holds');
  list.replaceChildren();
  if (!isAdmin) return;
  const holds = await api('GET', `/api/v1/files/${file.id}/legal-holds`).catch(() => ({ items: [] }));
  for (const hold of holds.items ?? []) {
    list.append(el('li', {}, `${hold.reason} — placed by ${hold.placed_by}, ${when(hold.placed_at)}`));
  }
}

async function grants(file) {
  const body = $('grants').tBodies[0];
  body.replaceChildren();
  let list;
  try {
    list = await api('GET', `/api/v1/files/${file.id}/permissions`);
  } catch (error) {
    if (!forbidden(error)) throw error;
    $('grants').hidden = true;
    $('grant').hidden = true;
    $('grants-none').hidden = false;
    $('grants-none').textContent = 'Only those who manage this file see and change whom it is shared with.';
    return;
  }
  $('grants').hidden = false;
  $('grant').hidden = false;
  $('grants-none').hidden = true;
  for (const grant of list.items) {
    const remove = el('button', {
      type: 'button',
      onclick: () => act(() => api('DELETE', `/api/v1/files/${file.id}/permissions/${grant.id}`), () => grants(file)),
    }, 'Stop sharing');
    remove.setAttribute('aria-label', `Stop sharing with ${grant.subject}`);
    const [kind, name] = grant.subject.split(/:(.*)/s);
    body.append(el('tr', { 'data-grant': grant.id },
      el('td', {}, kind === 'role' ? `everyone with the role ${name}` : name),
      el('td', {}, grant.access),
      el('td', {}, grant.expires_at ? when(grant.expires_at) : 'no end'),
      el('td', { class: 'actions' }, remove)));
  }
  if (list.items.length === 0) body.append(emptyRow(4, 'Not shared with anyone.'));
}

async function links(file) {
  const body = $('links').tBodies[0];
  body.replaceChildren();
  let list;
  try {
    list = await api('GET', `/api/v1/files/${file.id}/links`);
  } catch (error) {
    if (!forbidden(error)) throw error;
    body.append(emptyRow(5, 'Only those who manage this file make and see its links.'));
    $('link').hidden = true;
    return;
  }
  $('link').hidden = file.status !== 'available';
  for (const link of list.items) {
    const revoke = link.state === 'active' ? el('button', {
      type: 'button',
      onclick: () => act(() => api('DELETE', `/api/v1/files/${file.id}/links/${link.id}`), () => links(file)),
    }, 'Revoke') : el('span', { class: 'fine' }, '');
    revoke.setAttribute('aria-label', `Revoke the link made ${when(link.created_at)}`);
    body.append(el('tr', { 'data-link': link.id, 'data-state': link.state },
      el('td', {}, link.state.replace('_', ' ')),
      el('td', {}, when(link.expires_at)),
      el('td', {}, link.max_downloads ? `${link.downloads} of ${link.max_downloads}` : String(link.downloads)),
      el('td', {}, link.password_protected ? 'yes' : 'no'),
      el('td', { class: 'actions' }, revoke)));
  }
  if (list.items.length === 0) body.append(emptyRow(5, 'No links yet.'));
}

async function trail(file) {
  $('trail-card').hidden = !isAdmin;
  if (!isAdmin) return;
  const body = $('trail').tBodies[0];
  body.replaceChildren();
  const page = await api('GET', `/api/v1/audit?file_id=${file.id}&limit=100`);
  for (const entry of page.items) {
    body.append(el('tr', {}, el('td', {}, when(entry.at)), el('td', {}, entry.actor), el('td', {}, entry.action)));
  }
  if (page.items.length === 0) body.append(emptyRow(3, 'Nothing on record.'));
}

$('move').addEventListener('submit', (event) => {
  event.preventDefault();
  const file = current;
  const change = {};
  const name = $('move-name').value.trim();
  const path = $('move-path').value.trim();
  if (name !== file.filename) change.filename = name;
  if (path !== file.path) change.path = path;
  if (Object.keys(change).length === 0) return;
  act(() => api('PATCH', `/api/v1/files/${file.id}`, change), () => renderFile(file.id));
});

$('meta').addEventListener('submit', (event) => {
  event.preventDefault();
  const file = current;
  const change = { [$('meta-set-key').value.trim()]: $('meta-set-value').value };
  act(() => api('PATCH', `/api/v1/files/${file.id}`, { metadata: change }), async () => {
    $('meta').reset();
    await renderFile(file.id);
  });
});

$('grant').addEventListener('submit', (event) => {
  event.preventDefault();
  const file = current;
  const body = {
    subject: `${$('grant-kind').value}:${$('grant-who').value.trim()}`,
    access: $('grant-access').value,
  };
  const until = endOfDay($('grant-until').value);
  if (until) body.expires_at = until;
  act(() => api('POST', `/api/v1/files/${file.id}/permissions`, body), async () => {
    $('grant').reset();
    await grants(file);
  });
});

$('link').addEventListener('submit', (event) => {
  event.preventDefault();
  const file = current;
  const body = { expires_at: endOfDay($('link-expires').value) };
  if ($('link-password').value) body.password = $('link-password').value;
  if ($('link-max').value) body.max_downloads = Number($('link-max').value);
  act(async () => {
    const made = await api('POST', `/api/v1/files/${file.id}/links`, body);
    $('link').reset();
    defaultExpiry();
    $('link-url').value = made.url;
    $('link-made').hidden = false;
    $('link-url').focus();
    $('link-url').select();
  }, () => links(file));
});

$('link-copy').addEventListener('click', async () => {
  try {
    await navigator.clipboard.writeText($('link-url').value);
    $('link-copy').textContent = 'Copied';
  } catch {
    $('link-url').select();
  }
});

// A week from today, the first choice for a new link.
function defaultExpiry() {
  const week = new Date(Date.now() + 7 * 24 * 3600 * 1000);
  $('link-expires').value = week.toISOString().slice(0, 10);
  $('link-expires').min = new Date().toISOString().slice(0, 10);
}
defaultExpiry();
