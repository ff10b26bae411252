// An upload request's page (/u/{token}): sends each chosen file straight
// to the store through presigned URLs, then asks Coffer to verify it.
// Coffer's own script, served at /assets/upload.js; no library, no inline
// code (the page's Content-Security-Policy allows this file only).
'use strict';

(() => {
  const form = document.getElementById('upload');
  const input = document.getElementById('files');
  const list = document.getElementById('progress');
  const outcome = document.getElementById('outcome');
  if (!form || !input || !list || !outcome) return;
  const base = window.location.pathname.replace(/\/+$/, '');

  // The detail of a problem+json answer, or a plain sentence.
  const problemOf = async (response) => {
    try {
      const problem = await response.json();
      if (problem && typeof problem.detail === 'string') return problem.detail;
    } catch (_) {
      // not JSON
    }
    return `The server answered ${response.status}.`;
  };

  const post = (path, body) =>
    fetch(`${base}${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
      credentials: 'omit',
      referrerPolicy: 'no-referrer',
    });

  // PUT `blob` as `request` says, reporting bytes sent; resolves on 2xx.
  const put = (request, blob, onProgress) =>
    new Promise((resolve, reject) => {
      const xhr = new XMLHttpRequest();
      xhr.open(request.method || 'PUT', request.url);
      for (const [name, value] of Object.entries(request.headers || {})) {
        // The browser sets these itself and refuses to be told.
        if (!/^(content-length|host)$/i.test(name)) xhr.setRequestHeader(name, value);
      }
      xhr.upload.addEventListener('progress', (event) => onProgress(event.loaded));
      xhr.addEventListener('load', () => {
        if (xhr.status >= 200 && xhr.status < 300) resolve();
        else reject(new Error(`The store refused the file (${xhr.status}).`));
      });
      xhr.addEventListener('error', () => reject(new Error('The file could not reach the store.')));
      xhr.addEventListener('abort', () => reject(new Error('The upload was interrupted.')));
      xhr.send(blob);
    });

  const row = (file) => {
    const item = document.createElement('li');
    const name = document.createElement('span');
    name.className = 'name';
    name.textContent = file.name;
    const bar = document.createElement('progress');
    bar.max = file.size || 1;
    bar.value = 0;
    bar.setAttribute('aria-label', `Upload of ${file.name}`);
    const state = document.createElement('span');
    state.className = 'state';
    state.textContent = 'Waiting';
    item.append(name, bar, state);
    list.append(item);
    return {
      progress: (sent) => { bar.value = sent; },
      say: (text, kind) => {
        state.textContent = text;
        item.dataset.state = kind;
      },
    };
  };

  // One file: start, send (whole or in parts), complete. Throws a sentence.
  const send = async (file, show) => {
    const started = await post('/uploads', {
      name: file.name,
      size: file.size,
      content_type: file.type || null,
    });
    if (!started.ok) throw new Error(await problemOf(started));
    const upload = await started.json();
    const id = upload.file.id;
    show.say('Sending…', 'sending');
    if (upload.upload) {
      await put(upload.upload, file, show.progress);
    } else {
      const { part_size: size, part_count: count } = upload.multipart;
      for (let number = 1; number <= count; number += 1) {
        const asked = await post(`/uploads/${id}/parts`, { part_numbers: [number] });
        if (!asked.ok) throw new Error(await problemOf(asked));
        const { parts } = await asked.json();
        const start = (number - 1) * size;
        await put(parts[0], file.slice(start, start + size), (sent) =>
          show.progress(start + sent));
      }
    }
    show.progress(file.size);
    show.say('Checking…', 'checking');
    const completed = await post(`/uploads/${id}/complete`, {});
    if (!completed.ok) throw new Error(await problemOf(completed));
    return completed.json();
  };

  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    const files = Array.from(input.files || []);
    if (files.length === 0) return;
    const button = form.querySelector('button');
    button.disabled = true;
    input.disabled = true;
    form.dataset.state = 'sending';
    outcome.textContent = '';
    let failed = 0;
    for (const file of files) {
      const show = row(file);
      try {
        const done = await send(file, show);
        show.say(done.status === 'scanning' ? 'Received, being checked for malware' : 'Received', 'done');
      } catch (error) {
        failed += 1;
        show.say(error.message, 'failed');
      }
    }
    const sent = files.length - failed;
    outcome.textContent = failed === 0
      ? (sent === 1 ? 'Your file was sent. Thank you.' : `All ${sent} files were sent. Thank you.`)
      : `${sent} of ${files.length} files sent; see the problems above.`;
    form.dataset.state = failed === 0 ? 'done' : 'failed';
    button.disabled = false;
    input.disabled = false;
    input.value = '';
  });
})();
