// The check and report pages in headless Chromium against the contract stand-in
// (contract-stand-in.mjs, test-only): files are hashed in the page, only documented hash
// items go out, no request carries any 32-byte run of a file's bytes, results and the tip
// receipt flow are shown. Screenshots go to docs/screenshots/.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, mkdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { repo, vectorPath, launchBrowser } from './helpers.mjs';
import { cliHash } from './images.mjs';
import { startStandIn } from './contract-stand-in.mjs';

/** A vector file as a Playwright file payload (paths and buffers cannot be mixed). */
const payload = (p, mimeType) => ({ name: p.split('/').pop(), mimeType, buffer: readFileSync(vectorPath(p)) });

const ITEM_KEYS = ['pdq', 'pdq_quality', 'pdq_dihedral', 'phash', 'dhash', 'ahash', 'md5', 'sha256'];
const screenshots = new URL('docs/screenshots/', repo);
const RGBA = 'misc-images/modes/RGBA.png';
const OTHER = 'reg-test-input/pen-and-coaster.png';

let server;
let browser;
before(async () => {
  const [rgba] = cliHash('pdq', 'ignore', [fileURLToPath(vectorPath(RGBA))]);
  server = await startStandIn({ banks: { 'known-abuse-demo': [{ entry_id: '42', algorithm: 'pdq', hash: rgba.pdq.hash }] } });
  browser = await launchBrowser();
  mkdirSync(screenshots, { recursive: true });
});
after(async () => {
  await browser?.close();
  server?.stop();
});

/** Asserts no request body holds any 32-byte run of `bytes`, raw or base64-encoded. */
function assertNoRunOf(bytes, name, since) {
  const b64 = Buffer.from(bytes.toString('base64'));
  let checked = 0;
  for (const r of server.requests.slice(since)) {
    for (let i = 0; i + 32 <= r.body.length; i++) {
      const run = r.body.subarray(i, i + 32);
      assert.equal(bytes.indexOf(run), -1, `${r.method} ${r.path} carries bytes of ${name} at ${i}`);
      assert.equal(b64.indexOf(run), -1, `${r.method} ${r.path} carries base64 of ${name} at ${i}`);
    }
    assert.ok(!r.body.toString('latin1').includes(name), `${r.path} names the file ${name}`);
    checked++;
  }
  return checked;
}

function assertItems(items) {
  for (const item of items) {
    for (const key of Object.keys(item)) assert.ok(ITEM_KEYS.includes(key), `undocumented item key ${key}`);
  }
}

async function newPage() {
  const page = await browser.context.newPage();
  await page.setViewportSize({ width: 412, height: 915 });
  const errors = [];
  page.on('pageerror', (e) => errors.push(e));
  // Failed responses are checked by URL below (the browser's own /favicon.ico request 404s).
  page.on('console', (m) => m.type() === 'error' && !/status of 404/.test(m.text()) && errors.push(m.text()));
  page.on('response', (r) => r.status() >= 400 && !r.url().endsWith('/favicon.ico') && !r.url().includes('/v1/tips/') && errors.push(`${r.status()} ${r.url()}`));
  const outside = [];
  page.on('request', (r) => r.url().startsWith(server.url) || outside.push(r.url()));
  return { page, errors, outside };
}

test('check page: hashes picked images locally, sends only hash items, shows match or no match', async () => {
  const { page, errors, outside } = await newPage();
  const since = server.requests.length;
  await page.goto(`${server.url}check.html`);
  await page.getByText('Ready. Choose images to check.').waitFor();
  const text = { name: 'holiday.jpg', mimeType: 'image/jpeg', buffer: Buffer.from('a text file pretending to be a photo\n') };
  await page.getByLabel('Images to check').setInputFiles([payload(RGBA, 'image/png'), payload(OTHER, 'image/png'), text]);
  await page.getByText(/Checked 2 images/).waitFor({ timeout: 60_000 });
  const rows = page.locator('#results li');
  assert.equal(await rows.count(), 3);
  assert.match(await rows.nth(0).textContent(), /Matches list known-abuse-demo/);
  assert.match(await rows.nth(1).textContent(), /No match/);
  assert.match(await rows.nth(2).textContent(), /Could not hash this file: .*unsupported_format/);
  await page.screenshot({ path: fileURLToPath(new URL('check.png', screenshots)), fullPage: true });

  const posts = server.requests.slice(since).filter((r) => r.method !== 'GET');
  assert.equal(posts.length, 1);
  assert.equal(posts[0].path, '/v1/match');
  const body = JSON.parse(posts[0].body);
  assert.deepEqual(Object.keys(body), ['items']);
  assert.equal(body.items.length, 2);
  assertItems(body.items);
  const [want] = cliHash('pdq,pdq-dihedral,ahash,dhash,phash,md5,sha256', 'ignore', [fileURLToPath(vectorPath(RGBA))]);
  assert.deepEqual(body.items[0], {
    pdq: want.pdq.hash, pdq_quality: want.pdq.quality, pdq_dihedral: want.pdq_dihedral,
    phash: want.phash, dhash: want.dhash, ahash: want.ahash, md5: want.md5, sha256: want.sha256,
  });
  let checked = 0;
  for (const [name, bytes] of [['RGBA.png', readFileSync(vectorPath(RGBA))], ['pen-and-coaster.png', readFileSync(vectorPath(OTHER))], ['holiday.jpg', text.buffer]]) {
    checked = assertNoRunOf(bytes, name, since);
  }
  assert.deepEqual(outside, []);
  assert.deepEqual(errors, []);
  console.log(`check page [Chromium]: 3 files (match, no match, error) shown; ${checked} requests checked: ` +
    `no 32-byte run of any file, only documented keys (${posts[0].body.length} bytes sent to /v1/match)`);
  await page.close();
});

test('report page: previews exactly the JSON sent, submits the tip, shows the receipt and the status', async () => {
  const { page, errors, outside } = await newPage();
  const since = server.requests.length;
  await page.goto(`${server.url}report.html`);
  await page.getByText('Ready. Choose the files to report.').waitFor();
  const video = { name: 'clip.mp4', mimeType: 'video/mp4', buffer: Buffer.concat([Buffer.from('\0\0\0\x18ftypmp42'), Buffer.alloc(4096, 7)]) };
  await page.getByLabel('Images or videos').setInputFiles([payload(RGBA, 'image/png'), video]);
  await page.getByText('2 file(s) ready to report.').waitFor({ timeout: 60_000 });
  await page.getByLabel('What kind of content is it?').selectOption('non_consensual_intimate_imagery');
  await page.getByLabel('Description (optional)').fill('Posted without my consent.');
  await page.getByLabel(/web addresses/).fill('https://example.com/a\nhttps://example.org/b');
  await page.getByLabel('How to contact you (optional)').fill('me@example.com');
  const preview = await page.locator('#preview').textContent();
  await page.getByRole('button', { name: 'Send the report' }).click();
  await page.getByText('Report received. Keep the report id and the secret code.').waitFor();
  await page.screenshot({ path: fileURLToPath(new URL('report.png', screenshots)), fullPage: true });

  const posts = server.requests.slice(since).filter((r) => r.method !== 'GET');
  assert.equal(posts.length, 1);
  assert.equal(posts[0].path, '/v1/tips');
  assert.equal(posts[0].body.toString('utf8'), preview, 'the preview is exactly the body sent');
  const body = JSON.parse(posts[0].body);
  assert.deepEqual(Object.keys(body).sort(), ['category', 'contact', 'description', 'items', 'urls']);
  assertItems(body.items);
  assert.deepEqual(Object.keys(body.items[1]).sort(), ['md5', 'sha256'], 'a video gets only its digests');
  const [videoDigests] = [{
    md5: (await import('node:crypto')).createHash('md5').update(video.buffer).digest('hex'),
    sha256: (await import('node:crypto')).createHash('sha256').update(video.buffer).digest('hex'),
  }];
  assert.deepEqual(body.items[1], videoDigests);
  assert.equal(body.items[0].pdq.length, 64);
  assert.deepEqual(body.urls, ['https://example.com/a', 'https://example.org/b']);

  const [id] = [...server.tips.keys()];
  assert.equal(await page.locator('#receipt-id').textContent(), id);
  assert.equal(await page.locator('#receipt-token').textContent(), server.tips.get(id).token);
  await page.getByRole('button', { name: 'Check the status' }).click();
  await page.getByText(new RegExp(`Report ${id}: received`)).waitFor();
  const statusRequest = server.requests.at(-1);
  assert.equal(statusRequest.path, `/v1/tips/${id}`);
  assert.equal(statusRequest.headers.authorization, `Bearer ${server.tips.get(id).token}`);
  await page.getByLabel('Secret code').fill('wrong-token');
  await page.getByRole('button', { name: 'Check the status' }).click();
  await page.getByText('No report with this id and secret code.').waitFor();

  const checked = assertNoRunOf(readFileSync(vectorPath(RGBA)), 'RGBA.png', since) && assertNoRunOf(video.buffer, 'clip.mp4', since);
  assert.deepEqual(outside, []);
  assert.deepEqual(errors, []);
  console.log(`report page [Chromium]: preview equals the ${posts[0].body.length}-byte body sent; receipt and status flow work; ${checked} requests carry no file bytes`);
  await page.close();
});

test('both pages are keyboard-usable and linked from the index page', async () => {
  const { page } = await newPage();
  await page.goto(server.url);
  for (const [link, heading] of [['Check images before uploading them', 'Check images before you upload them'], ['Report an image without uploading it', 'Report an image without uploading it']]) {
    await page.goto(server.url);
    await page.getByRole('link', { name: link }).click();
    await page.getByRole('heading', { level: 1, name: heading }).waitFor();
    // Every form control has a label.
    const unlabelled = await page.evaluate(() => [...document.querySelectorAll('input, select, textarea')]
      .filter((el) => !el.labels?.length && !el.getAttribute('aria-label')).map((el) => el.id));
    assert.deepEqual(unlabelled, [], heading);
    // The file input is reachable with the keyboard.
    let reached = false;
    for (let i = 0; i < 10 && !reached; i++) {
      await page.keyboard.press('Tab');
      reached = await page.evaluate(() => document.activeElement?.id === 'files');
    }
    assert.ok(reached, `${heading}: the file input is reachable by Tab`);
  }
  await page.close();
});
