// A share link's public page in a real browser, as an outside party sees
// it: a fresh context with no sign-in, the password refused then accepted
// through the labelled field, the download's bytes checked, revoked and
// expired links refused, no console error (a CSP violation would be one).
// Run by crates/server/tests/it/browser.rs, which sets the variables.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { launch, need, overflows, watchedPage } from './harness.mjs';

const shots = need('SCREENSHOTS');
const filename = need('FILENAME');
const browser = await launch();
try {
  const context = await browser.newContext({ acceptDownloads: true });
  // Refused pages (403 wrong password, 410 dead links) are expected answers.
  const { page, problems } = await watchedPage(context, [403, 410]);

  const opened = await page.goto(need('LINK_URL'));
  assert.equal(opened.status(), 200);
  assert.equal(await page.locator('h1').textContent(), filename);
  assert.match(await page.title(), new RegExp(filename.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')));
  await page.screenshot({ path: `${shots}/share-link.png`, fullPage: true });

  // Keyboard only: the field has focus, Enter submits.
  const password = page.getByLabel('Password');
  await password.fill('wrong horse');
  await password.press('Enter');
  await page.waitForLoadState();
  assert.match(await page.getByRole('alert').textContent(), /not right/);
  await page.screenshot({ path: `${shots}/share-link-wrong-password.png`, fullPage: true });

  await page.getByLabel('Password').fill(need('PASSWORD'));
  const [download] = await Promise.all([
    page.waitForEvent('download'),
    page.getByRole('button', { name: 'Download' }).click(),
  ]);
  assert.equal(download.suggestedFilename(), filename);
  const bytes = await readFile(await download.path());
  assert.equal(createHash('sha256').update(bytes).digest('hex'), need('SHA256'));

  for (const [url, heading] of [
    [need('REVOKED_URL'), /withdrawn/],
    [need('EXPIRED_URL'), /expired/],
  ]) {
    const refused = await page.goto(url);
    assert.equal(refused.status(), 410);
    assert.match(await page.locator('h1').textContent(), heading);
  }
  await page.screenshot({ path: `${shots}/share-link-expired.png`, fullPage: true });

  // A narrow screen: the card still fits, nothing scrolls sideways.
  await page.setViewportSize({ width: 360, height: 640 });
  await page.goto(need('LINK_URL'));
  assert.equal(await overflows(page), false, 'the page scrolls sideways on a phone');
  await page.screenshot({ path: `${shots}/share-link-phone.png`, fullPage: true });

  assert.deepEqual(problems, [], 'no console errors');
  console.log('share link page: ok');
} finally {
  await browser.close();
}
