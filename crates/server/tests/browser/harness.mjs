// What every browser scenario shares: its variables, Debian's Chromium
// through playwright-core (both installed by scripts/services/browser.sh),
// and a page that collects console errors — a CSP violation, a refused
// request — as problems, except the statuses a scenario expects.
import { createRequire } from 'node:module';

export const need = (name) => {
  const value = process.env[name];
  if (value === undefined || value === '') throw new Error(`${name} is not set`);
  return value;
};

export async function launch() {
  const require = createRequire(`${need('COFFER_TEST_BROWSER_MODULES')}/`);
  const { chromium } = require('playwright-core');
  return chromium.launch({
    executablePath: need('COFFER_TEST_CHROMIUM'),
    // Root in a container: Chromium's sandbox needs user namespaces.
    args: ['--no-sandbox'],
  });
}

// A new page of `context` and the problems seen on it; `expected` lists
// HTTP statuses Chromium logs as failed loads that are the scenario's
// expected answers.
export async function watchedPage(context, expected = []) {
  const page = await context.newPage();
  const problems = [];
  const allowed = expected.length ? new RegExp(`status of (${expected.join('|')})\\b`) : null;
  page.on('console', (message) => {
    if (message.type() === 'error' && !(allowed && allowed.test(message.text()))) problems.push(message.text());
  });
  page.on('pageerror', (error) => problems.push(String(error)));
  return { page, problems };
}

// Whether the page scrolls sideways (it must not, on a phone).
export const overflows = (page) => page.evaluate(() => document.documentElement.scrollWidth > window.innerWidth);
