// The web app in a real browser: sign in (the dev form in embedded mode,
// the issuer's page in production), upload through the page — the bytes
// go to the store's origin, never to Coffer's; a large file in parts —
// see it listed, download it and compare bytes, rename it, trash and
// restore it; its details page: move, share with a member and through a
// link (shown once, revoked), metadata set and filtered on; a file's
// versions (one made current), retention and hold; the member signs in and sees it; an admin
// sees usage, sets the webhook and filters the audit log; then another tenant's user signs in and
// sees none of it, and fetching its id answers 404.
// Run by crates/server/tests/it/web_app.rs, which sets the variables and
// then checks the server's side (owners, bytes, objects in the store).
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFile, writeFile, mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { launch, need, overflows, watchedPage } from './harness.mjs';

const base = need('APP_URL');
const shots = need('SCREENSHOTS');
const folder = need('FOLDER');
const store = need('STORE_ORIGIN');
const browser = await launch();
const sha = (bytes) => createHash('sha256').update(bytes).digest('hex');
const folderUrl = (path) => `${base}/#/files?path=${encodeURIComponent(path)}`;

// A signed-in page of a fresh context, failing on console errors but the
// answers `expected` names (Chromium logs every refused fetch).
async function signedIn(prefix, expected = [401, 404]) {
  const context = await browser.newContext({ acceptDownloads: true });
  const { page, problems } = await watchedPage(context, expected);
  await page.goto(folderUrl(folder));
  await page.getByRole('link', { name: 'Sign in' }).click();
  if (process.env[`${prefix}_PASSWORD`]) {
    await page.locator('input[name=username]').fill(need(`${prefix}_USERNAME`));
    await page.locator('input[name=password]').fill(need(`${prefix}_PASSWORD`));
    await page.getByRole('button', { name: 'Sign in' }).click();
  } else {
    assert.match(await page.locator('body').textContent(), /Not for production/);
    await page.getByLabel('Tenant').fill(need(`${prefix}_TENANT`));
    await page.getByLabel('User').fill(need(`${prefix}_USERNAME`));
    await page.getByLabel('Role').selectOption(process.env[`${prefix}_ROLE`] ?? 'editor');
    await page.getByRole('button', { name: 'Sign in' }).click();
  }
  await page.waitForURL(`${base}/#/**`);
  await page.getByRole('button', { name: 'Sign out' }).waitFor();
  return { context, page, problems };
}

// Where a page's bytes went: every PUT's origin, and the largest body
// Coffer's own origin was sent (JSON of the initiate, parts and complete calls).
function watchRequests(page) {
  const seen = { puts: [], largestToCoffer: 0 };
  page.on('request', (request) => {
    const origin = new URL(request.url()).origin;
    if (request.method() === 'PUT') seen.puts.push(origin);
    else if (origin === base) seen.largestToCoffer = Math.max(seen.largestToCoffer, request.postDataBuffer()?.length ?? 0);
  });
  return seen;
}

try {
  const dir = await mkdtemp(join(tmpdir(), 'coffer-app-'));
  const name = need('FILENAME');
  const renamedName = need('RENAMED');
  const bytes = Buffer.from(Array.from({ length: 300_000 }, (_, i) => (i * 7) % 251));
  await writeFile(join(dir, name), bytes);
  const largeName = need('LARGE_NAME');
  const largeSize = Number(need('LARGE_SIZE'));
  const large = Buffer.alloc(largeSize);
  for (let i = 0; i < largeSize; i += 1) large[i] = (i * 13) % 251;
  await writeFile(join(dir, largeName), large);

  const { context, page, problems } = await signedIn('A');
  await page.getByText('No files here yet.').waitFor();
  await page.screenshot({ path: `${shots}/app-empty.png`, fullPage: true });

  // A small file in one PUT, straight to the store.
  const seen = watchRequests(page);
  await page.getByLabel('Upload files to this folder').setInputFiles(join(dir, name));
  await page.locator('.uploads li[data-state=done]', { hasText: name }).waitFor();
  const row = page.locator('#list tbody tr', { hasText: name });
  await row.waitFor();
  assert.deepEqual(seen.puts, [store]);
  assert.ok(seen.largestToCoffer < 10_000, `Coffer was sent ${seen.largestToCoffer} bytes in one request`);

  // A large file in parts, in the category "scans": several PUTs, all to the store.
  seen.puts.length = 0;
  await page.getByLabel('Category for new files (optional)').fill('scans');
  await page.getByLabel('Upload files to this folder').setInputFiles(join(dir, largeName));
  await page.locator('.uploads li', { hasText: largeName }).getByText(/uploading in \d+ parts/).waitFor();
  await page.screenshot({ path: `${shots}/app-uploading.png`, fullPage: true });
  await page.locator('.uploads li[data-state=done]', { hasText: largeName }).waitFor();
  await page.locator('#list tbody tr', { hasText: largeName }).waitFor();
  await page.screenshot({ path: `${shots}/app-uploaded.png`, fullPage: true });
  const parts = Number(need('LARGE_PARTS'));
  assert.deepEqual(seen.puts, Array(parts).fill(store), `one PUT per part, to the store: ${seen.puts}`);
  assert.ok(seen.largestToCoffer < 10_000, `Coffer was sent ${seen.largestToCoffer} bytes in one request`);
  assert.equal(await page.locator('.uploads li[data-state=failed]').count(), 0);

  const [download] = await Promise.all([
    page.waitForEvent('download'),
    row.getByRole('link', { name: `Download ${name}` }).click(),
  ]);
  assert.equal(download.suggestedFilename(), name);
  assert.equal(sha(await readFile(await download.path())), sha(bytes));

  // Categories and search: the category lists the large file only; a
  // search for part of the small file's name finds it only.
  await page.getByRole('list', { name: 'Categories' }).getByRole('link', { name: 'scans', exact: true }).click();
  await page.locator('#list-caption', { hasText: 'in category scans' }).waitFor();
  assert.deepEqual(await page.locator('#list tbody td.name a').allTextContents(), [largeName]);
  await page.getByRole('button', { name: 'Clear' }).click();
  await page.locator('#list-caption').filter({ hasText: new RegExp(`^Files in ${folder}$`) }).waitFor();
  await page.getByLabel('Search this folder and below').fill(name.slice(0, 9));
  await page.getByRole('button', { name: 'Search', exact: true }).click();
  await page.locator('#list-caption', { hasText: 'matching' }).waitFor();
  assert.deepEqual(await page.locator('#list tbody td.name a').allTextContents(), [name]);
  await page.goto(folderUrl(folder));

  // Rename through the dialog the button opens.
  page.once('dialog', (dialog) => dialog.accept(renamedName));
  await row.getByRole('button', { name: `Rename ${name}` }).click();
  const renamed = page.locator('#list tbody tr', { hasText: renamedName });
  await renamed.waitFor();

  await renamed.getByRole('button', { name: `Move ${renamedName} to the trash` }).click();
  await renamed.waitFor({ state: 'detached' });
  await page.getByRole('link', { name: 'Trash' }).click();
  const trashed = page.locator('#trash-list tbody tr', { hasText: renamedName });
  await trashed.waitFor();
  await page.screenshot({ path: `${shots}/app-trash.png`, fullPage: true });
  await trashed.getByRole('button', { name: `Restore ${renamedName}` }).click();
  await trashed.waitFor({ state: 'detached' });
  await page.goto(folderUrl(folder));
  await renamed.waitFor();
  const id = await renamed.getAttribute('data-file');

  // The large file's page: move it to a sub-folder, which the folder then shows.
  await page.getByRole('link', { name: largeName, exact: true }).click();
  await page.getByRole('heading', { level: 1, name: largeName }).waitFor();
  await page.getByLabel('Folder', { exact: true }).fill(`${folder}/archive`);
  await page.getByRole('button', { name: 'Save' }).click();
  await page.locator('#file-facts dd', { hasText: `${folder}/archive` }).waitFor();
  await page.getByRole('link', { name: 'Back to the folder' }).click();
  await page.locator('#list-caption', { hasText: `Files in ${folder}/archive` }).waitFor();
  await page.locator('#list tbody tr', { hasText: largeName }).waitFor();
  await page.getByRole('navigation', { name: 'Breadcrumb' }).getByRole('link', { name: 'acme' }).click();
  await page.getByRole('list', { name: 'Folders' }).getByRole('link', { name: 'archive', exact: true }).waitFor();
  await page.locator('#list tbody tr', { hasText: largeName }).waitFor({ state: 'detached' });

  // The renamed file's page: share it with carol, and through a link.
  await page.getByRole('link', { name: renamedName, exact: true }).click();
  await page.getByRole('heading', { level: 1, name: renamedName }).waitFor();
  assert.match(await page.locator('#file-facts').textContent(), new RegExp(`Owner${need('A_USERNAME')}`));
  await page.screenshot({ path: `${shots}/app-details.png`, fullPage: true });
  await page.getByLabel('Share with').selectOption('user');
  await page.getByLabel('Member or role').fill(need('C_USERNAME'));
  await page.getByLabel('Access').selectOption('read');
  await page.getByRole('button', { name: 'Share', exact: true }).click();
  await page.locator('#grants tbody tr', { hasText: need('C_USERNAME') }).waitFor();

  await page.getByLabel('Password (optional, 8 or more characters)').fill('correct horse battery');
  await page.getByLabel('Most downloads (optional)').fill('3');
  await page.getByRole('button', { name: 'Create link' }).click();
  const url = page.getByLabel(/New link/);
  await url.waitFor();
  const linkUrl = await url.inputValue();
  assert.match(linkUrl, /\/s\/[A-Za-z0-9_-]{20,}$/);
  const link = page.locator('#links tbody tr[data-state=active]');
  await link.waitFor();
  assert.match(await link.textContent(), /0 of 3/);
  await page.screenshot({ path: `${shots}/app-share.png`, fullPage: true });
  // The public page answers while the link lives, not after revoking.
  assert.equal((await context.request.get(linkUrl)).status(), 200);
  await link.getByRole('button', { name: /Revoke/ }).click();
  await page.locator('#links tbody tr[data-state=revoked]').waitFor();
  assert.notEqual((await context.request.get(linkUrl)).status(), 200);
  assert.equal(await page.getByLabel(/New link/).isVisible(), true, 'the URL stays until the page changes');
  await page.reload();
  await page.locator('#links tbody tr[data-state=revoked]').waitFor();
  assert.equal(await page.getByLabel(/New link/).isVisible(), false, 'the URL is shown once');

  // Metadata set on the page, then the folder filtered by it.
  await page.getByLabel('Key', { exact: true }).fill('case');
  await page.getByLabel('Value', { exact: true }).fill('A-1');
  await page.getByRole('button', { name: 'Set', exact: true }).click();
  await page.locator('#file-metadata dd', { hasText: 'A-1' }).waitFor();
  await page.goto(folderUrl('/'));
  await page.getByLabel('Metadata key').fill('case');
  await page.getByLabel('Metadata value').fill('A-1');
  await page.getByRole('button', { name: 'Search', exact: true }).click();
  await page.locator('#list-caption', { hasText: 'with case = A-1' }).waitFor();
  assert.deepEqual(await page.locator('#list tbody td.name a').allTextContents(), [renamedName]);
  await page.getByLabel('Metadata value').fill('A-2');
  await page.getByRole('button', { name: 'Search', exact: true }).click();
  await page.getByText('No files match.').waitFor();

  // A file with a history: its versions, the first made current again;
  // its retention and legal hold.
  const ledger = need('LEDGER');
  await page.goto(folderUrl('/records'));
  await page.getByRole('link', { name: ledger, exact: true }).click();
  await page.getByRole('heading', { level: 1, name: ledger }).waitFor();
  await page.locator('#versions tbody tr').nth(1).waitFor();
  assert.equal(await page.locator('#versions tbody tr').count(), 2);
  await page.locator('#retention', { hasText: /governance until/ }).waitFor();
  await page.locator('#retention', { hasText: /Legal holdyes/ }).waitFor();
  await page.screenshot({ path: `${shots}/app-versions.png`, fullPage: true });
  await page.getByRole('button', { name: 'Make current' }).click();
  await page.locator('#versions tbody tr').nth(2).waitFor();
  assert.match(await page.locator('#file-facts').textContent(), /Version3/);

  await page.goto(folderUrl(folder));
  await renamed.waitFor();
  // At a phone's width nothing is wider than the screen.
  const fits = async () => !(await overflows(page));
  await page.setViewportSize({ width: 390, height: 844 });
  await page.screenshot({ path: `${shots}/app-phone.png`, fullPage: true });
  assert.ok(await fits(), 'the folder fits a phone');
  await page.getByRole('link', { name: renamedName, exact: true }).click();
  await page.getByRole('heading', { level: 1, name: renamedName }).waitFor();
  await page.screenshot({ path: `${shots}/app-phone-details.png`, fullPage: true });
  assert.ok(await fits(), "a file's page fits a phone");
  assert.deepEqual(problems, []);

  // The session ends (its cookie gone, as when the token expires): the
  // next call answers 401 and the app renews the session with the issuer's
  // refresh token, or, with no refresh token (dev sign-in), asks to sign
  // in again — never a broken page.
  await context.clearCookies({ name: 'coffer_session' });
  await page.evaluate((hash) => { location.hash = hash; }, `#/files?path=${encodeURIComponent(folder)}`);
  if (process.env.A_PASSWORD) {
    await page.locator('#list tbody tr', { hasText: renamedName }).waitFor();
    const renewed = await context.cookies();
    assert.ok(renewed.some((c) => c.name === 'coffer_session' && c.httpOnly), 'a renewed session cookie');
  } else {
    await page.waitForURL(/\/app\/sign-in/);
    await page.getByRole('heading', { name: 'Development sign-in' }).waitFor();
  }
  await context.close();

  // carol, a viewer, sees the file shared with her, and only that one.
  // Her file page asks for its grants and links: 403, she does not manage it.
  const carol = await signedIn('C', [401, 403, 404]);
  await carol.page.locator('#list tbody tr', { hasText: renamedName }).waitFor();
  assert.equal(await carol.page.locator('#list tbody tr').count(), 1);
  await carol.page.getByRole('link', { name: renamedName, exact: true }).click();
  await carol.page.getByRole('heading', { level: 1, name: renamedName }).waitFor();
  await carol.page.getByText('Only those who manage this file see and change whom it is shared with.').waitFor();
  assert.deepEqual(carol.problems, []);
  await carol.context.close();

  // dave, the tenant's admin: usage, the audit log filtered, a file's trail.
  const dave = await signedIn('D');
  await dave.page.getByRole('link', { name: 'Admin', exact: true }).click();
  await dave.page.getByRole('heading', { name: 'Tenant administration' }).waitFor();
  await dave.page.getByText(/^3 of \d+/).waitFor();
  // The webhook: set (its secret shown once), removed, set again.
  const hook = need('WEBHOOK_URL');
  await dave.page.getByText(/^No webhook/).waitFor();
  await dave.page.getByLabel('Deliver events to').fill(`${hook}/first`);
  await dave.page.getByRole('button', { name: 'Save' }).click();
  await dave.page.getByLabel(/Signing secret/).waitFor();
  assert.match(await dave.page.getByLabel(/Signing secret/).inputValue(), /^whsec_/);
  await dave.page.getByText(`Events go to ${hook}/first`, { exact: false }).waitFor();
  await dave.page.getByRole('button', { name: 'Remove' }).click();
  await dave.page.getByText(/^No webhook/).waitFor();
  assert.equal(await dave.page.getByLabel(/Signing secret/).isVisible(), false);
  await dave.page.getByLabel('Deliver events to').fill(hook);
  await dave.page.getByRole('button', { name: 'Save' }).click();
  await dave.page.getByText(`Events go to ${hook} since`, { exact: false }).waitFor();
  await dave.page.getByLabel('Action').fill('grant.added');
  await dave.page.getByRole('button', { name: 'Filter' }).click();
  const grantRow = dave.page.locator('#audit tbody tr', { hasText: 'grant.added' });
  await grantRow.waitFor();
  assert.equal(await dave.page.locator('#audit tbody tr').count(), 1);
  await dave.page.screenshot({ path: `${shots}/app-admin.png`, fullPage: true });
  await grantRow.getByRole('link').click();
  await dave.page.getByRole('heading', { level: 1, name: renamedName }).waitFor();
  await dave.page.locator('#trail tbody tr', { hasText: 'file.uploaded' }).first().waitFor();
  await dave.page.locator('#trail tbody tr', { hasText: 'link.revoked' }).first().waitFor();
  await dave.page.goto(folderUrl('/records'));
  await dave.page.getByRole('link', { name: ledger, exact: true }).click();
  await dave.page.locator('#holds li', { hasText: 'Audit 2026' }).waitFor();
  assert.deepEqual(dave.problems, []);
  await dave.context.close();

  // Another tenant's member sees none of it.
  const other = await signedIn('B');
  await other.page.getByText('No files here yet.').waitFor();
  const status = await other.page.evaluate(async (file) => (await fetch(`/api/v1/files/${file}`)).status, id);
  assert.equal(status, 404);
  await other.page.goto(`${base}/#/file/${id}`);
  await other.page.getByRole('alert').filter({ hasText: /./ }).waitFor();
  await other.page.goto(folderUrl('/'));
  await other.page.getByText('No files here yet.').waitFor();
  assert.equal(await other.page.locator('#folders li').count(), 0);
  assert.deepEqual(other.problems, []);
  console.log(JSON.stringify({ id }));
} finally {
  await browser.close();
}
