// The tenant admin page (`#/admin`): usage against quota and plan limits,
// the webhook, and the audit log with filters.

import { $, act, api, el, emptyRow, facts, fileHref, size, when } from './api.js';

// Entries per page of the audit log.
const AUDIT_PAGE = 50;
let auditCursor = null;

function meter(label, used, max, format) {
  const id = `meter-${label.toLowerCase().replace(/\W+/g, '-')}`;
  const bar = el('progress', { id, max: String(max || 1), value: String(Math.min(used, max || used)) });
  const share = max ? ` (${Math.round((used / max) * 100)} %)` : '';
  return el('div', { class: 'meter' },
    el('label', { for: id }, label),
    bar,
    el('span', {}, `${format(used)} of ${format(max)}${share}`));
}

async function usage() {
  const tenant = await api('GET', '/api/v1/tenant');
  const { usage: used, limits } = tenant;
  const count = (n) => String(n);
  $('usage').replaceChildren(
    el('p', {}, `${tenant.display_name} (${tenant.slug}) — plan ${tenant.plan}, ${tenant.status}`),
    meter('Storage used', used.used_bytes, limits.max_total_bytes, size),
    meter('Files', used.file_count, limits.max_files, count),
    used.reserved_bytes ? el('p', { class: 'fine' }, `${size(used.reserved_bytes)} reserved by ${used.reserved_files} uploads in progress.`) : '',
  );
  facts($('limits'), [
    ['Largest file', size(limits.max_file_size)],
    ['Types accepted', limits.allowed_content_types.length ? limits.allowed_content_types.join(', ') : 'any'],
    ['Trash kept for', `${limits.retention_days} days`],
    ['Download links last', `${limits.url_ttl_secs} s`],
    ['Requests per minute', limits.requests_per_minute ? `${limits.requests_per_minute} (tenant), ${limits.user_requests_per_minute || 'no limit'} (each user)` : 'no limit'],
  ]);
}

async function webhook() {
  try {
    const hook = await api('GET', '/api/v1/tenant/webhook');
    $('webhook-now').textContent = `Events go to ${hook.url} since ${when(hook.since)}.`;
    $('webhook-url').value = hook.url;
    $('webhook-remove').hidden = false;
  } catch (error) {
    if (error.status !== 404) throw error;
    $('webhook-now').textContent = 'No webhook: events are kept for polling (GET /api/v1/events).';
    $('webhook-remove').hidden = true;
  }
}

function auditQuery() {
  const query = new URLSearchParams({ limit: String(AUDIT_PAGE) });
  const add = (name, value) => { if (value) query.set(name, value); };
  add('actor', $('audit-actor').value.trim());
  add('action', $('audit-action').value.trim());
  add('file_id', $('audit-file').value.trim());
  add('since', $('audit-since').value && new Date($('audit-since').value).toISOString());
  add('until', $('audit-until').value && new Date($('audit-until').value).toISOString());
  return query;
}

async function audit(more = false) {
  const body = $('audit').tBodies[0];
  const query = auditQuery();
  if (!more) { body.replaceChildren(); auditCursor = null; }
  if (auditCursor) query.set('cursor', auditCursor);
  const page = await api('GET', `/api/v1/audit?${query}`);
  for (const entry of page.items) {
    const file = entry.file_id ? el('a', { href: fileHref(entry.file_id) }, entry.file_id.slice(0, 8)) : '—';
    const detail = entry.detail && Object.keys(entry.detail).length ? JSON.stringify(entry.detail) : '';
    body.append(el('tr', {},
      el('td', {}, when(entry.at)),
      el('td', {}, entry.actor),
      el('td', {}, entry.action),
      el('td', {}, file),
      el('td', { class: 'detail' }, detail)));
  }
  if (!more && page.items.length === 0) body.append(emptyRow(5, 'Nothing on record matches.'));
  // A short page is the last, whatever its cursor says.
  auditCursor = page.items.length < AUDIT_PAGE ? null : page.next_cursor;
  $('audit-more').hidden = !auditCursor;
}

export async function renderAdmin() {
  $('webhook-made').hidden = true;
  await Promise.all([usage(), webhook(), audit()]);
}

$('webhook').addEventListener('submit', (event) => {
  event.preventDefault();
  act(async () => {
    const made = await api('PUT', '/api/v1/tenant/webhook', { url: $('webhook-url').value.trim() });
    $('webhook-secret').value = made.secret;
    $('webhook-made').hidden = false;
  }, webhook);
});

$('webhook-remove').addEventListener('click', () => act(async () => {
  await api('DELETE', '/api/v1/tenant/webhook');
  $('webhook-url').value = '';
  $('webhook-made').hidden = true;
}, webhook));

$('audit-filter').addEventListener('submit', (event) => {
  event.preventDefault();
  act(() => audit());
});
$('audit-more').addEventListener('click', () => act(() => audit(true)));
