// Browser tests of the storefront, driving Debian's chromium headless with playwright-core.
// tests/e2e/storefront.rs starts both services and the storefront, makes the fixtures through the
// APIs, and runs this with their addresses:
//
//   node storefront.mjs --shop URL --order-url URL --chromium /usr/bin/chromium \
//     --screenshots DIR --student-token JWT --instructor-token JWT --course-url URL \
//     --xss-course ID --live-course ID --tight-course ID
//
// Exits 0 when every check passed; prints each check as it passes and the first failure.

import { parseArgs } from 'node:util';
import { readFileSync, mkdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { chromium } from 'playwright-core';

const require = createRequire(import.meta.url);
const axeSource = readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8');

const { values: args } = parseArgs({
  options: {
    shop: { type: 'string' },
    'course-url': { type: 'string' },
    'order-url': { type: 'string' },
    chromium: { type: 'string', default: '/usr/bin/chromium' },
    screenshots: { type: 'string' },
    'student-token': { type: 'string' },
    'instructor-token': { type: 'string' },
    'xss-course': { type: 'string' },
    'live-course': { type: 'string' },
    'tight-course': { type: 'string' },
    scenario: { type: 'string', default: 'full' },
  },
});

const shop = args.shop;
const problems = [];
const pass = (what) => console.log(`ok: ${what}`);
function check(condition, what) {
  if (!condition) throw new Error(`failed: ${what}`);
  pass(what);
}

mkdirSync(args.screenshots, { recursive: true });

const browser = await chromium.launch({
  executablePath: args.chromium,
  headless: true,
  args: ['--no-sandbox', '--disable-dev-shm-usage'],
});

const sizes = { desktop: { width: 1280, height: 860 }, phone: { width: 390, height: 844 } };

async function newPage(context) {
  const page = await context.newPage();
  page.on('console', (msg) => {
    if (msg.type() === 'error') problems.push(`console error on ${page.url()}: ${msg.text()}`);
  });
  page.on('pageerror', (err) => problems.push(`page error on ${page.url()}: ${err.message}`));
  page.on('dialog', async (dialog) => {
    problems.push(`a dialog opened on ${page.url()}: ${dialog.message()}`);
    await dialog.dismiss();
  });
  page.on('request', (request) => {
    const url = new URL(request.url());
    if (!['127.0.0.1', 'localhost'].includes(url.hostname) && url.protocol !== 'data:') {
      problems.push(`a request left 127.0.0.1: ${request.url()}`);
    }
  });
  return page;
}

async function axe(page, name) {
  await page.evaluate(axeSource);
  const result = await page.evaluate(async () => {
    // eslint-disable-next-line no-undef
    const r = await axe.run(document, { resultTypes: ['violations'] });
    return r.violations.map((v) => `${v.id} (${v.impact}): ${v.help} at ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`);
  });
  check(result.length === 0, `axe-core finds no violations on ${name}${result.length ? ': ' + result.join('; ') : ''}`);
}

/// Screenshots of the page at desktop and phone size, and axe at both.
async function capture(page, name) {
  for (const [size, viewport] of Object.entries(sizes)) {
    await page.setViewportSize(viewport);
    await page.screenshot({ path: `${args.screenshots}/${name}-${size}.png`, fullPage: true });
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    check(overflow <= 1, `${name} fits a ${size}-sized screen without sideways scrolling (overflow ${overflow}px)`);
    await axe(page, `${name} (${size})`);
  }
  await page.setViewportSize(sizes.desktop);
}

async function signIn(page, name, role) {
  await page.goto(`${shop}/signin`);
  check(await page.getByText('Development sign-in').first().isVisible(), 'the sign-in page says it is the development sign-in');
  await page.getByLabel('Name').fill(name);
  await page.getByLabel(role === 'student' ? 'Student: buy seats' : 'Instructor: create and price courses').check();
  await Promise.all([page.waitForURL(/done=signedin/), page.getByRole('button', { name: 'Sign in' }).click()]);
  check(await page.getByText(`Signed in as ${name}`).isVisible(), `signed in as ${role} ${name}`);
}

async function api(method, url, token, body) {
  const response = await fetch(url, {
    method,
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: body ? JSON.stringify(body) : undefined,
  });
  return { status: response.status, body: await response.json().catch(() => null) };
}

async function seatsLeft(page, course) {
  return page.locator(`[data-course="${course}"] [data-field="seats_available"]`).first().textContent();
}

/// Sign-in through the OpenID Connect provider: its sign-in page, back to the storefront, a
/// purchase with the provider's token.
async function oidcScenario() {
  const context = await browser.newContext({ viewport: sizes.desktop });
  const page = await newPage(context);
  await page.goto(`${shop}/signin`);
  check(await page.getByText('Development sign-in').count() === 0, 'no development sign-in when the secret was not generated by the launcher');
  await axe(page, 'sign-in');
  await page.getByRole('link', { name: /^Sign in with/ }).click();
  await page.getByLabel('User name').waitFor();
  check(!page.url().startsWith(shop), `the browser is at the provider's sign-in page (${new URL(page.url()).origin})`);
  await page.getByLabel('User name').fill('olga');
  await page.getByLabel('Roles').selectOption('student');
  await Promise.all([page.waitForURL(/done=signedin/), page.getByRole('button', { name: 'Sign in' }).click()]);
  check(page.url().startsWith(shop), 'the provider sent the browser back to the storefront');
  check(await page.getByText('Signed in as olga').isVisible(), 'signed in as olga through the provider');
  await page.goto(`${shop}/courses/${args['live-course']}`);
  await Promise.all([page.waitForURL(/\/orders/), page.getByRole('button', { name: /^Buy for/ }).click()]);
  check((await page.locator('tbody tr').first().locator('[data-field="status"]').textContent()) === 'Confirmed', 'a purchase with the provider\'s token is confirmed');
  check(problems.length === 0, `no console errors, dialogs or requests leaving 127.0.0.1${problems.length ? ': ' + problems.join('; ') : ''}`);
}

/// Buying a course with a price through the checkout page (the local Stripe sandbox).
async function paymentScenario() {
  const context = await browser.newContext({ viewport: sizes.desktop });
  const page = await newPage(context);
  await signIn(page, 'petra', 'student');
  await page.goto(`${shop}/courses/${args['live-course']}`);
  await Promise.all([page.waitForURL(/\/orders\/.*\/pay/), page.getByRole('button', { name: /^Buy for/ }).click()]);
  check(await page.getByText('Your seat is held for you until').isVisible(), 'buying a priced course leads to the payment page with the hold\'s end');
  await capture(page, 'pay');
  await page.getByRole('link', { name: 'Continue to payment' }).click();
  await page.getByRole('button', { name: /^Pay/ }).waitFor();
  check(!page.url().startsWith(shop), `the checkout page is the payment provider's (${new URL(page.url()).origin})`);
  await Promise.all([page.waitForURL(/done=paid/), page.getByRole('button', { name: /^Pay/ }).click()]);
  check(await page.getByRole('status').filter({ hasText: 'your payment is being confirmed' }).isVisible(), 'back at the storefront, the page says the payment is being confirmed');
  const deadline = Date.now() + 10000;
  let status = '';
  while (Date.now() < deadline) {
    status = await page.locator('tbody tr').first().locator('[data-field="status"]').textContent();
    if (status === 'Confirmed') break;
    await page.waitForTimeout(300);
    await page.reload();
  }
  check(status === 'Confirmed', `the paid order shows confirmed (${status})`);
  check(problems.length === 0, `no console errors, dialogs or requests leaving 127.0.0.1${problems.length ? ': ' + problems.join('; ') : ''}`);
}

try {
  if (args.scenario === 'payments') {
    await paymentScenario();
    await browser.close();
    console.log('all storefront browser checks passed');
    process.exit(0);
  }
  if (args.scenario === 'oidc') {
    await oidcScenario();
    await browser.close();
    console.log('all storefront browser checks passed');
    process.exit(0);
  }
  const context = await browser.newContext({ viewport: sizes.desktop });
  const page = await newPage(context);

  // Browse, signed out: the catalogue, and a hostile title shown as text.
  await page.goto(shop);
  check(await page.getByRole('heading', { name: 'Courses', level: 1 }).isVisible(), 'the catalogue opens');
  const xss = page.locator(`[data-course="${args['xss-course']}"] h2`);
  check((await xss.textContent()).trim() === '<script>alert(1)</script>', 'a course titled <script>alert(1)</script> shows as text');
  check(await page.locator('script:not([src])').count() === 0, 'the page has no inline script');
  await capture(page, 'catalogue');

  // Live: a purchase made through the API shows in the open catalogue within 3 s.
  const before = Number(await seatsLeft(page, args['live-course']));
  await page.waitForFunction(() => document.getElementById('live-status')?.textContent === 'Live.', null, { timeout: 5000 });
  const bought = await api('POST', `${args['order-url']}/api/orders`, args['student-token'], { course_id: args['live-course'] });
  check(bought.status === 201, `a purchase through the API is confirmed (${bought.status})`);
  const started = Date.now();
  await page.waitForFunction(
    ([course, expected]) => document.querySelector(`[data-course="${course}"] [data-field="seats_available"]`)?.textContent === String(expected),
    [args['live-course'], before - 1],
    { timeout: 3000 },
  );
  pass(`the open catalogue shows the seat gone within 3 s (${Date.now() - started} ms), without a reload`);

  // A student signs in, buys, sees the order confirmed, and cancels it.
  await signIn(page, 'sam', 'student');
  await page.goto(`${shop}/courses/${args['live-course']}`);
  await capture(page, 'course');
  const buy = page.getByRole('button', { name: /^Buy for/ });
  await Promise.all([page.waitForURL(/\/orders/), buy.click()]);
  const row = page.locator('tbody tr').first();
  check((await row.locator('[data-field="status"]').textContent()) === 'Confirmed', 'the order shows confirmed');
  check(await page.getByRole('status').filter({ hasText: 'Your seat is confirmed.' }).isVisible(), 'the page says the seat is confirmed');
  await capture(page, 'orders');
  await Promise.all([page.waitForURL(/done=cancelled/), row.getByRole('button', { name: /^Cancel/ }).click()]);
  check((await page.locator('tbody tr').first().locator('[data-field="status"]').textContent()) === 'Cancelled', 'the cancelled order shows cancelled');

  // Clear messages for refusals: the price changed while the page was open, then sold out.
  await page.goto(`${shop}/courses/${args['tight-course']}`);
  const changed = await api('PATCH', `${args['course-url']}/api/courses/${args['tight-course']}/price`, args['instructor-token'], { price_cents: 1500 });
  check(changed.status === 200, 'the instructor changed the price through the API');
  await page.getByRole('button', { name: /^Buy for/ }).click();
  await page.getByRole('alert').waitFor();
  check((await page.getByRole('alert').textContent()).includes('The price changed to $15.00'), 'a purchase at an old price says the price changed, and to what');
  await capture(page, 'course-price-changed');
  const other = await api('POST', `${args['order-url']}/api/orders`, args['student-token'], { course_id: args['tight-course'] });
  check(other.status === 201, 'another student bought the last seat through the API');
  await page.getByRole('button', { name: /^Buy for/ }).click();
  await page.getByRole('alert').waitFor();
  check((await page.getByRole('alert').textContent()).startsWith('Sold out'), 'buying the last seat someone else took says sold out');
  // The page now offers the waitlist.
  await Promise.all([page.waitForURL(/done=joined/), page.getByRole('button', { name: 'Join the waitlist' }).click()]);
  check(await page.getByText('You are number 1 on the waitlist.').isVisible(), 'joining the waitlist shows the place in line');
  await capture(page, 'course-waitlist');
  await Promise.all([page.waitForURL(/done=left/), page.getByRole('button', { name: 'Leave the waitlist' }).click()]);
  pass('leaving the waitlist');

  // Sign out; an instructor creates a course and changes its price.
  await Promise.all([page.waitForURL(shop + '/'), page.getByRole('button', { name: 'Sign out' }).click()]);
  await signIn(page, 'ines', 'instructor');
  await capture(page, 'teach');
  await page.getByLabel('Title').fill('Ownership in practice');
  await page.getByLabel('Description (optional)').fill('Borrowing, lifetimes and <b>not</b> fighting them.');
  await page.getByLabel('Price').fill('25');
  await page.getByLabel('Seats').fill('3');
  await Promise.all([page.waitForURL(/\/teach\/courses\/.*done=created/), page.getByRole('button', { name: 'Create the course' }).click()]);
  check(await page.getByRole('heading', { name: 'Ownership in practice', level: 1 }).isVisible(), 'the new course opens in its live view');
  await capture(page, 'manage');
  await page.getByLabel(/New price/).fill('30');
  await Promise.all([page.waitForURL(/done=price/), page.getByRole('button', { name: 'Change the price' }).click()]);
  check(await page.getByText('$30.00').first().isVisible(), 'the changed price shows');
  // The live view follows a sale made anywhere: seats and revenue, without a reload.
  const created = page.url().match(/\/teach\/courses\/([0-9a-f-]+)/)[1];
  check((await page.locator('[data-revenue]').textContent()) === '$0.00', 'a new course has no revenue');
  await page.waitForFunction(() => document.getElementById('live-status')?.textContent === 'Live.', null, { timeout: 5000 });
  const sale = await api('POST', `${args['order-url']}/api/orders`, args['student-token'], { course_id: created });
  check(sale.status === 201, 'a student bought a seat of the new course through the API');
  await page.waitForFunction(
    () => document.querySelector('[data-field="seats_sold"]')?.textContent === '1'
      && document.querySelector('[data-revenue]')?.textContent === '$30.00',
    null,
    { timeout: 3000 },
  );
  pass('the live view shows the sale and the revenue within 3 s');
  await page.goto(`${shop}/teach`);
  check(await page.getByRole('link', { name: 'Ownership in practice' }).isVisible(), 'the course is listed among the instructor\'s');

  // Keyboard: the skip link is the first stop and leads to the content.
  await page.goto(shop);
  await page.keyboard.press('Tab');
  check(await page.evaluate(() => document.activeElement?.textContent) === 'Skip to content', 'the first Tab reaches "Skip to content"');

  check(problems.length === 0, `no console errors, dialogs or requests leaving 127.0.0.1${problems.length ? ': ' + problems.join('; ') : ''}`);
  await browser.close();
  console.log('all storefront browser checks passed');
} catch (error) {
  console.error(error.message ?? error);
  if (problems.length) console.error(problems.join('\n'));
  await browser.close();
  process.exit(1);
}
