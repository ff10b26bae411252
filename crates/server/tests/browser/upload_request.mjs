// An upload request's public page in a real browser, as an outside party
// sees it: a fresh context with no sign-in, a file set on the labelled
// input, Upload clicked, each file's progress and outcome shown; a closed
// request's page refused; no console error (a CSP violation would be one).
// Run by crates/server/tests/it/browser.rs, which sets the variables and
// then checks the file arrived, verified, in the requester's folder.
import assert from 'node:assert/strict';
import { launch, need, overflows, watchedPage } from './harness.mjs';

const shots = need('SCREENSHOTS');
const browser = await launch();
try {
  const context = await browser.newContext();
  // A closed request's page (410) is an expected answer.
  const { page, problems } = await watchedPage(context, [410]);
  const sentTo = [];
  page.on('request', (request) => {
    if (request.method() === 'PUT') sentTo.push(new URL(request.url()).origin);
  });

  const opened = await page.goto(need('REQUEST_URL'));
  assert.equal(opened.status(), 200);
  assert.equal(await page.locator('h1').textContent(), 'Send files');
  assert.match(await page.locator('.message').textContent(), /Please send the signed contract/);
  await page.screenshot({ path: `${shots}/upload-request.png`, fullPage: true });

  // A large file too, larger than one part: the page sends it in parts.
  // Its bytes are the PDF header then i % 251 (the test computes the same).
  const largeSize = Number(need('LARGE_SIZE'));
  const header = Buffer.from('%PDF-1.7\n');
  const large = Buffer.alloc(header.length + largeSize);
  header.copy(large);
  for (let i = 0; i < largeSize; i += 1) large[header.length + i] = i % 251;
  await page.getByLabel('Files to send').setInputFiles([
    {
      name: need('FILENAME'),
      mimeType: 'application/pdf',
      buffer: Buffer.from(need('CONTENT_HEX'), 'hex'),
    },
    { name: need('LARGE_NAME'), mimeType: 'application/pdf', buffer: large },
  ]);
  await page.getByRole('button', { name: 'Upload' }).click();
  await page.waitForSelector('form[data-state="done"], form[data-state="failed"]', { timeout: 60_000 });
  const states = await page.locator('#progress li').evaluateAll((items) =>
    items.map((item) => [item.querySelector('.name').textContent, item.dataset.state,
      item.querySelector('.state').textContent]));
  assert.deepEqual(states, [
    [need('FILENAME'), 'done', 'Received'],
    [need('LARGE_NAME'), 'done', 'Received'],
  ]);
  assert.match(await page.getByRole('status').textContent(), /All 2 files were sent/);
  const full = await page.locator('#progress progress').evaluateAll((bars) =>
    bars.every((bar) => bar.value === bar.max));
  assert.equal(full, true, 'every progress bar is full');
  // The bytes went to the store, not to a page of Coffer's own: one PUT
  // for the small file, one per part for the large one.
  const store = need('STORE_ORIGIN');
  assert.deepEqual(sentTo, [store, store, store]);
  await page.screenshot({ path: `${shots}/upload-request-done.png`, fullPage: true });

  const refused = await page.goto(need('CLOSED_URL'));
  assert.equal(refused.status(), 410);
  assert.match(await page.locator('h1').textContent(), /closed/);
  assert.equal(await page.locator('input[type="file"]').count(), 0);
  await page.screenshot({ path: `${shots}/upload-request-closed.png`, fullPage: true });

  // A narrow screen: the card still fits, nothing scrolls sideways.
  await page.setViewportSize({ width: 360, height: 640 });
  await page.goto(need('REQUEST_URL'));
  assert.equal(await overflows(page), false, 'the page scrolls sideways on a phone');
  await page.screenshot({ path: `${shots}/upload-request-phone.png`, fullPage: true });

  assert.deepEqual(problems, [], 'no console errors');
  console.log('upload request page: ok');
} finally {
  await browser.close();
}
