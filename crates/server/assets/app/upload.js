// Uploads straight to the store: initiate with Coffer, PUT the bytes on
// the presigned URL (in parts for large files), then have Coffer complete
// and verify them. Coffer's server sees only the small JSON calls.

import { $, api, el } from './api.js';

// Above this a file goes in parts: each part is retried on its own and a
// failure costs one part, not the whole file. Multipart needs 5 MiB or more.
export const MULTIPART_FROM = 16 * 1024 * 1024;
// Parts in flight at once.
const PARALLEL = 3;

// One PUT with the headers the presigned URL binds, reporting bytes sent.
function put(target, body, progress) {
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
    request.send(body);
  });
}

// The parts of a multipart upload, PARALLEL at a time, each presigned as
// it is about to go.
async function putParts(id, file, plan, progress) {
  const { part_size: partSize, part_count: count } = plan;
  const sent = new Array(count + 1).fill(0);
  const report = () => progress(sent.reduce((a, b) => a + b, 0));
  let next = 1;
  const worker = async () => {
    while (next <= count) {
      const number = next;
      next += 1;
      const { parts } = await api('POST', `/api/v1/files/${id}/parts`, { part_numbers: [number] });
      const start = (number - 1) * partSize;
      await put(parts[0], file.slice(start, start + partSize), (bytes) => { sent[number] = bytes; report(); });
    }
  };
  await Promise.all(Array.from({ length: Math.min(PARALLEL, count) }, worker));
}

// One file into `path`, with its row in the uploads list.
async function upload(file, path, category) {
  const bar = el('progress', { max: String(file.size || 1), value: '0' });
  const state = el('span', { class: 'state' }, 'starting…');
  bar.setAttribute('aria-label', `Upload of ${file.name}`);
  const item = el('li', { 'data-state': 'starting' }, el('span', { class: 'name' }, file.name), bar, state);
  $('uploads').append(item);
  const say = (text, kind) => { state.textContent = text; item.dataset.state = kind; };
  try {
    const multipart = file.size >= MULTIPART_FROM;
    const started = await api('POST', '/api/v1/files', {
      filename: file.name,
      size: file.size,
      path,
      ...(category ? { category } : {}),
      ...(file.type ? { content_type: file.type } : {}),
      ...(multipart ? { multipart: true } : {}),
    });
    const id = started.file.id;
    say(started.multipart ? `uploading in ${started.multipart.part_count} parts…` : 'uploading…', 'sending');
    const progress = (sent) => { bar.value = sent; };
    if (started.upload) await put(started.upload, file, progress);
    else await putParts(id, file, started.multipart, progress);
    bar.value = bar.max;
    say('checking…', 'checking');
    const done = await api('POST', `/api/v1/files/${id}/complete`);
    say(done.status === 'available' ? 'done' : done.status, 'done');
  } catch (error) {
    say(`failed: ${error.message}`, 'failed');
  }
}

// Several files at once, each on its own.
export async function uploadAll(files, path, category) {
  await Promise.all([...files].map((file) => upload(file, path, category)));
}
