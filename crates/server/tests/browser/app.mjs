// The web app in a real browser: sign in (the dev form in embedded mode,
// the issuer's page in production), upload through the page — the bytes
// go to the store's origin, never to Coffer's — see it listed, download it
// and compare bytes, rename it, trash and restore it; then another tenant's
// user signs in and sees none of it, and fetching its id answers 404.
// Run by crates/server/tests/it/web_app.rs, which sets the variables.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFile, writeFile, mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { launch, need, watchedPage } from './harness.mjs';

const base = need('APP_URL');
const shots = need('SCREENSHOTS');
const folder = need('FOLDER');
const browser = await launch();

// A signed-in page of a fresh context, failing on console errors.
async function signedIn(prefix) {
  const context = await browser.newContext({ acceptDownloads: true });
  // Before sign-in the app's session check answers 401; B's fetch of A's file 404.
  const { page, problems } = await watchedPage(context, [401, 404]);
  await page.goto(`${base}/#/files?path=${encodeURIComponent(folder)}`);
  await page.getByRole('link', { name: 'Sign in' }).click();
  if (process.env[`${prefix}_PASSWORD`]) {
    await page.locator('input[name=username]').fill(need(`${prefix}_USERNAME`));
    await page.locator('input[name=password]').fill(need(`${prefix}_PASSWORD`));
    await page.getByRole('button', { name: 'Sign in' }).click();
  } else {
    assert.match(await page.locator('body').textContent(), /Not for production/);
    await page.getByLabel('Tenant').fill(need(`${prefix}_TENANT`));
    await page.getByLabel('User').fill(need(`${prefix}_USERNAME`));
    await page.getByLabel('Role').selectOption('editor');
    await page.getByRole('button', { name: 'Sign in' }).click();
  }
  await page.waitForURL(`${base}/#/files**`);
  await page.getByRole('button', { name: 'Sign out' }).waitFor();
  return { context, page, problems };
}

try {
  const dir = await mkdtemp(join(tmpdir(), 'coffer-app-'));
  const name = need('FILENAME');
  const bytes = Buffer.from(Array.from({ length: 300_000 }, (_, i) => (i * 7) % 251));
  await writeFile(join(dir, name), bytes);

  const { context, page, problems } = await signedIn('A');
  await page.screenshot({ path: `${shots}/app-empty.png`, fullPage: true });
  // Where the bytes went: every PUT, and the largest body Coffer's own
  // origin was sent (JSON of the initiate and complete calls).
  const puts = [];
  let largestToCoffer = 0;
  page.on('request', (request) => {
    const origin = new URL(request.url()).origin;
    if (request.method() === 'PUT') puts.push(origin);
    else if (origin === base) largestToCoffer = Math.max(largestToCoffer, request.postDataBuffer()?.length ?? 0);
  });
  await page.getByLabel('Upload files to this folder').setInputFiles(join(dir, name));
  await page.getByText('done', { exact: true }).waitFor();
  await page.screenshot({ path: `${shots}/app-uploaded.png`, fullPage: true });
  const row = page.locator('tbody tr', { hasText: name });
  await row.waitFor();
  assert.deepEqual(puts, [need('STORE_ORIGIN')]);
  assert.ok(largestToCoffer < 10_000, `Coffer was sent ${largestToCoffer} bytes in one request`);

  const [download] = await Promise.all([
    page.waitForEvent('download'),
    row.getByRole('link', { name: `Download ${name}` }).click(),
  ]);
  assert.equal(download.suggestedFilename(), name);
  const got = await readFile(await download.path());
  assert.equal(createHash('sha256').update(got).digest('hex'), createHash('sha256').update(bytes).digest('hex'));

  // Rename through the dialog the button opens.
  page.once('dialog', (dialog) => dialog.accept(need('RENAMED')));
  await row.getByRole('button', { name: `Rename ${name}` }).click();
  const renamed = page.locator('tbody tr', { hasText: need('RENAMED') });
  await renamed.waitFor();

  await renamed.getByRole('button', { name: `Move ${need('RENAMED')} to the trash` }).click();
  await renamed.waitFor({ state: 'detached' });
  await page.getByRole('link', { name: 'Trash' }).click();
  const trashed = page.locator('#trash-list tbody tr', { hasText: need('RENAMED') });
  await trashed.waitFor();
  await page.screenshot({ path: `${shots}/app-trash.png`, fullPage: true });
  await trashed.getByRole('button', { name: `Restore ${need('RENAMED')}` }).click();
  await trashed.waitFor({ state: 'detached' });
  await page.goto(`${base}/#/files?path=${encodeURIComponent(folder)}`);
  await page.locator('tbody tr', { hasText: need('RENAMED') }).waitFor();
  await page.setViewportSize({ width: 390, height: 844 });
  await page.screenshot({ path: `${shots}/app-phone.png`, fullPage: true });
  assert.deepEqual(problems, []);
  const id = await page.locator('tbody tr', { hasText: need('RENAMED') }).getAttribute('data-file');
  await context.close();

  // Another tenant's member sees none of it.
  const other = await signedIn('B');
  await other.page.getByText('No files here yet.').waitFor();
  const status = await other.page.evaluate(async (file) => (await fetch(`/api/v1/files/${file}`)).status, id);
  assert.equal(status, 404);
  await other.page.goto(`${base}/#/files?path=/`);
  await other.page.getByText('No files here yet.').waitFor();
  assert.equal(await other.page.locator('#folders li').count(), 0);
  assert.deepEqual(other.problems, []);
  console.log(JSON.stringify({ id }));
} finally {
  await browser.close();
}
