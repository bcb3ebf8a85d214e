// The check and report pages in headless Chromium, served by the matching server
// (pixelprint-server, the binary, with a fresh data dir) under its CSP. A bank is filled through
// the admin API with the CLI's PDQ hash of one image. Files are hashed in the page; the hash
// items shown and sent equal the CLI's bit for bit; the browser's every request is recorded:
// bodies hold only the documented keys and no 32-byte run of a file's bytes, and the server
// answered no API request the recording missed. Match, no match, the tip, its stored form and
// its status all come from the server. The check page asks without a key: the server answers
// verdicts, and the page names no list, only the category of a bank the server makes public
// (--public-category). Screenshots go to docs/screenshots/.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { createHash, randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  repo, vectorPath, launchBrowser, startServer, PAGES_CSP, startLongTaskProbe, finishLongTaskProbe, assertNoLongTask,
} from './helpers.mjs';
import { cliHash, png24Mp, pngClaiming } from './images.mjs';

/** A vector file as a Playwright file payload (paths and buffers cannot be mixed). */
const payload = (p, mimeType) => ({ name: p.split('/').pop(), mimeType, buffer: readFileSync(vectorPath(p)) });

const ITEM_KEYS = ['pdq', 'pdq_quality', 'pdq_dihedral', 'pdq_trimmed', 'pdq_embedded', 'pdq_captioned', 'pdq_straightened', 'phash', 'phash_mirrored', 'dhash', 'ahash', 'md5', 'sha256'];
const screenshots = new URL('docs/screenshots/', repo);
const RGBA = 'misc-images/modes/RGBA.png';
const OTHER = 'reg-test-input/pen-and-coaster.png';
const BANK = 'known-abuse-demo';
/** A bank whose category the server may name to anyone, and an image listed in it. */
const CATEGORY_BANK = 'categorised-demo';
const CATEGORY = 'child_sexual_abuse';
const CATEGORISED = 'reg-test-input/labelme-subset/q0122.jpg';
/** An image whose PDQ quality (3) is under the matching gate: the page says so itself. */
const FLAT = 'reg-test-input/labelme-subset/q0003.jpg';
const MATCH_TEXT = "Can't be uploaded: it matches a list of known abusive images";
const ADMIN_KEY = randomBytes(24).toString('hex');

/** The hash item (docs/api.md) the CLI gives for a vector file: what a page must send for it. */
function cliItem(p) {
  const [h] = cliHash('pdq,pdq-dihedral,pdq-trimmed,pdq-embedded,pdq-captioned,pdq-straightened,ahash,dhash,phash,phash-mirrored,md5,sha256', 'ignore',
    [fileURLToPath(vectorPath(p))]);
  const embedded = h.pdq_embedded === undefined ? {} : { pdq_embedded: h.pdq_embedded };
  const captioned = h.pdq_captioned === undefined ? {} : { pdq_captioned: h.pdq_captioned };
  const straightened = h.pdq_straightened === undefined ? {} : { pdq_straightened: h.pdq_straightened };
  return { pdq: h.pdq.hash, pdq_quality: h.pdq.quality, pdq_dihedral: h.pdq_dihedral, pdq_trimmed: h.pdq_trimmed,
    ...embedded, ...captioned, ...straightened, phash: h.phash, phash_mirrored: h.phash_mirrored, dhash: h.dhash, ahash: h.ahash, md5: h.md5, sha256: h.sha256 };
}

let server;
let browser;
let rgbaItem;
const tmp = mkdtempSync(join(tmpdir(), 'pixelprint-pages-'));
before(async () => {
  // The page tests file more tips from 127.0.0.1 than the anonymous tip quota allows.
  server = await startServer({ adminKey: ADMIN_KEY, args: ['--public-category', `${CATEGORY_BANK}=${CATEGORY}`,
    '--tips-per-hour', '1000', '--daily-tips', '1000'] });
  rgbaItem = cliItem(RGBA);
  for (const [name, file] of [[BANK, RGBA], [CATEGORY_BANK, CATEGORISED]]) {
    const bank = await server.api('POST', '/v1/banks', { name, description: 'page tests' });
    assert.equal(bank.status, 201, JSON.stringify(bank.body));
    const added = await server.api('POST', `/v1/banks/${name}/entries`,
      { entries: [{ algorithm: 'pdq', hash: cliItem(file).pdq, metadata: file }] });
    assert.equal(added.status, 201, JSON.stringify(added.body));
  }
  browser = await launchBrowser();
  mkdirSync(screenshots, { recursive: true });
});
after(async () => {
  await browser?.close();
  await server?.stop();
  rmSync(tmp, { recursive: true, force: true });
});

/** Requests answered by the server's API (`/metrics`), less those this test made itself. */
async function apiTally() {
  const ours = server.apiCalls;
  const { body } = await server.api('GET', '/metrics');
  return { served: Number(/^pixelprint_http_requests_total (\d+)$/m.exec(body)[1]), ours };
}

/** Asserts the server answered exactly the API requests the browser was recorded making. */
async function assertAllApiRequestsRecorded(since, requests) {
  const now = await apiTally();
  const recorded = requests.filter((r) => r.path.startsWith('/v1/')).length;
  assert.equal((now.served - since.served) - (now.ours - since.ours), recorded, 'API requests the recording missed');
  return recorded;
}

/** Asserts no request URL or body holds any 32-byte run of `bytes`, raw or base64-encoded. */
function assertNoRunOf(requests, bytes, name) {
  const b64 = Buffer.from(bytes.toString('base64'));
  for (const r of requests) {
    for (const sent of [Buffer.from(r.url), r.body]) {
      for (let i = 0; i + 32 <= sent.length; i++) {
        const run = sent.subarray(i, i + 32);
        assert.equal(bytes.indexOf(run), -1, `${r.method} ${r.path} carries bytes of ${name} at ${i}`);
        assert.equal(b64.indexOf(run), -1, `${r.method} ${r.path} carries base64 of ${name} at ${i}`);
      }
      assert.ok(!sent.toString('latin1').includes(name), `${r.method} ${r.path} names the file ${name}`);
    }
  }
  return requests.length;
}

function assertItems(items) {
  for (const item of items) {
    for (const key of Object.keys(item)) assert.ok(ITEM_KEYS.includes(key), `undocumented item key ${key}`);
  }
}

/** A phone-sized page whose every request is recorded (method, URL, path, body, the request). */
async function newPage() {
  const page = await browser.context.newPage();
  await page.setViewportSize({ width: 412, height: 915 });
  const errors = [];
  page.on('pageerror', (e) => errors.push(e));
  // Failed responses are checked by URL below (the browser's own /favicon.ico request 404s).
  page.on('console', (m) => m.type() === 'error' && !/status of 404/.test(m.text()) && errors.push(m.text()));
  page.on('response', (r) => r.status() >= 400 && !r.url().endsWith('/favicon.ico') && !r.url().includes('/v1/tips/') && errors.push(`${r.status()} ${r.url()}`));
  const requests = [];
  const outside = [];
  page.on('request', (r) => {
    requests.push({ method: r.method(), url: r.url(), path: new URL(r.url()).pathname, body: r.postDataBuffer() ?? Buffer.alloc(0), request: r });
    if (!r.url().startsWith(server.url)) outside.push(r.url());
  });
  return { page, errors, outside, requests };
}

/** Opens a page of the server, checks it came with the server's CSP, waits for `ready`. */
async function open(page, path, ready) {
  const response = await page.goto(`${server.url}${path}`);
  assert.equal(response.headers()['content-security-policy'], PAGES_CSP, path);
  await page.getByText(ready).waitFor();
}

const posts = (requests) => requests.filter((r) => r.method !== 'GET');

test('check page: hashes picked images locally, sends only hash items, shows verdicts without naming a list', async () => {
  const { page, errors, outside, requests } = await newPage();
  const since = await apiTally();
  await open(page, 'check.html', 'Ready. Choose images to check.');
  const text = { name: 'holiday.jpg', mimeType: 'image/jpeg', buffer: Buffer.from('a text file pretending to be a photo\n') };
  await page.getByLabel('Images to check').setInputFiles([payload(RGBA, 'image/png'), payload(OTHER, 'image/png'), text,
    payload(CATEGORISED, 'image/jpeg'), payload(FLAT, 'image/jpeg')]);
  await page.getByText(/Checked 4 images/).waitFor({ timeout: 60_000 });
  const rows = page.locator('#results li');
  assert.equal(await rows.count(), 5);
  assert.match(await rows.nth(0).textContent(), new RegExp(`${MATCH_TEXT}$`));
  assert.match(await rows.nth(1).textContent(), /No match$/);
  assert.match(await rows.nth(2).textContent(), /Could not hash this file: .*unsupported_format/);
  assert.match(await rows.nth(3).textContent(), new RegExp(`${MATCH_TEXT} \\(child sexual abuse\\)$`));
  assert.match(await rows.nth(4).textContent(), /No match \(PDQ quality 3 is below 50: the PDQ hash was not checked\)$/);
  const shown = await page.locator('main').textContent();
  for (const name of [BANK, CATEGORY_BANK]) assert.ok(!shown.includes(name), `the page names the bank ${name}`);
  await page.screenshot({ path: fileURLToPath(new URL('check.png', screenshots)), fullPage: true });

  const sent = posts(requests);
  assert.equal(sent.length, 1);
  assert.equal(sent[0].path, '/v1/match');
  const body = JSON.parse(sent[0].body);
  assert.deepEqual(Object.keys(body), ['items']);
  assertItems(body.items);
  assert.deepEqual(body.items, [rgbaItem, cliItem(OTHER), cliItem(CATEGORISED), cliItem(FLAT)], 'the items sent are the CLI\'s hashes');
  assert.deepEqual(JSON.parse(await page.locator('#sent').textContent()), body, 'the page shows what it sent');
  // What the page was told: verdicts, and the category of the bank the server makes public.
  const answer = await (await sent[0].request.response()).json();
  assert.deepEqual(answer, { results: [{ item: 0, match: true }, { item: 1, match: false },
    { categories: [CATEGORY], item: 2, match: true }, { item: 3, match: false }] });
  for (const [name, bytes] of [['RGBA.png', readFileSync(vectorPath(RGBA))], ['pen-and-coaster.png', readFileSync(vectorPath(OTHER))],
    ['holiday.jpg', text.buffer], ['q0122.jpg', readFileSync(vectorPath(CATEGORISED))], ['q0003.jpg', readFileSync(vectorPath(FLAT))]]) {
    assertNoRunOf(requests, bytes, name);
  }
  const api = await assertAllApiRequestsRecorded(since, requests);
  assert.deepEqual(outside, []);
  assert.deepEqual(errors, []);
  console.log(`check page [Chromium, pixelprint-server]: 5 files (match, no match, error, match with a public category, PDQ under the quality gate) shown; ${requests.length} requests ` +
    `(${api} to the API, as the server counted) checked: no 32-byte run of any file, only documented keys, ` +
    `items equal the CLI's (${sent[0].body.length} bytes sent to /v1/match)`);
  await page.close();
});

test('check page: a truncated JPEG, a text file named .jpg and a PNG claiming 30000x30000 pixels each get a clear message; the page keeps working', async () => {
  const { page, errors, outside, requests } = await newPage();
  await open(page, 'check.html', 'Ready. Choose images to check.');
  const jpeg = readFileSync(vectorPath('reg-test-input/exif-rotn/exif-rotn-6.jpg'));
  const cases = [
    ['truncated.jpg', 'image/jpeg', jpeg.subarray(0, jpeg.length >> 1), 'truncated_image'],
    ['notes.jpg', 'image/jpeg', Buffer.from('these are my notes, not a photo\n'), 'unsupported_format'],
    ['huge.png', 'image/png', pngClaiming(30000, 30000), 'too_many_pixels'],
  ];
  const rows = page.locator('#results li .state');
  for (const [i, [name, mimeType, buffer, code]] of cases.entries()) {
    await page.getByLabel('Images to check').setInputFiles({ name, mimeType, buffer });
    await rows.nth(2 * i).getByText(/^Could not hash this file/).waitFor({ timeout: 60_000 });
    const message = await rows.nth(2 * i).textContent();
    assert.match(message, new RegExp(`^Could not hash this file: [a-z].{10,} \\(${code}\\)$`), name);
    // The next file is hashed and checked as usual.
    await page.getByLabel('Images to check').setInputFiles(payload(RGBA, 'image/png'));
    await rows.nth(2 * i + 1).getByText(MATCH_TEXT).waitFor({ timeout: 60_000 });
    console.log(`check page [Chromium, pixelprint-server]: ${name} -> "${message}"; the next image matches`);
  }
  const sent = posts(requests);
  assert.deepEqual(sent.map((r) => r.path), ['/v1/match', '/v1/match', '/v1/match'], 'only the good files were checked');
  for (const r of sent) assert.deepEqual(JSON.parse(r.body), { items: [rgbaItem] });
  assert.deepEqual(outside, []);
  assert.deepEqual(errors, []);
  await page.close();
});

test('check page: no main-thread long task over 100 ms while a 24 MP image is hashed and checked', async () => {
  const { page, errors, requests } = await newPage();
  await open(page, 'check.html', 'Ready. Choose images to check.');
  const png = join(tmp, 'big.png');
  writeFileSync(png, png24Mp());
  await page.evaluate(startLongTaskProbe);
  const start = Date.now();
  await page.getByLabel('Images to check').setInputFiles(png);
  await page.getByText('Checked 1 image.').waitFor({ timeout: 120_000 });
  const elapsed = Date.now() - start;
  const probe = await page.evaluate(finishLongTaskProbe);
  assert.match(await page.locator('#results li .state').textContent(), /^No match$/);
  const sent = posts(requests);
  assert.deepEqual(sent.map((r) => r.path), ['/v1/match']);
  const { items } = JSON.parse(sent[0].body);
  assert.equal(items.length, 1);
  assert.match(items[0].pdq, /^[0-9a-f]{64}$/);
  assert.equal(items[0].pdq_dihedral.length, 8);
  const worst = assertNoLongTask(probe, 'a 24 MP image was hashed and checked');
  assert.deepEqual(errors, []);
  console.log(`check page [Chromium, pixelprint-server]: 24 MP PNG picked, hashed and checked in ${elapsed} ms; main thread: ` +
    `${probe.longTasks.length} long tasks (worst ${worst.toFixed(0)} ms), largest timer gap ${probe.maxGap.toFixed(0)} ms`);
  await page.close();
});

test('report page: previews exactly the JSON sent, submits the tip, shows the receipt and the status', async () => {
  const { page, errors, outside, requests } = await newPage();
  const since = await apiTally();
  await open(page, 'report.html', 'Ready. Choose the files to report.');
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
  // The id and the secret code are new each run: masked, so the screenshot changes only with the
  // page. Masks are placed from viewport positions: scroll to the top first, for a full-page shot.
  const secrets = ['#receipt-id', '#receipt-token', '#status-id', '#status-token'].map((s) => page.locator(s));
  await page.evaluate(() => window.scrollTo(0, 0));
  await page.screenshot({ path: fileURLToPath(new URL('report.png', screenshots)), fullPage: true, mask: secrets, maskColor: '#888' });

  const sent = posts(requests);
  assert.equal(sent.length, 1);
  assert.equal(sent[0].path, '/v1/tips');
  assert.equal(sent[0].body.toString('utf8'), preview, 'the preview is exactly the body sent');
  const body = JSON.parse(sent[0].body);
  assert.deepEqual(Object.keys(body).sort(), ['category', 'contact', 'description', 'items', 'urls']);
  assertItems(body.items);
  const digest = (algorithm) => createHash(algorithm).update(video.buffer).digest('hex');
  assert.deepEqual(body.items, [rgbaItem, { md5: digest('md5'), sha256: digest('sha256') }],
    'the image\'s items are the CLI\'s; a video gets only its digests');
  assert.deepEqual(body.urls, ['https://example.com/a', 'https://example.org/b']);

  // The receipt is the server's, and the server stored exactly what was sent.
  const id = await page.locator('#receipt-id').textContent();
  const token = await page.locator('#receipt-token').textContent();
  assert.match(id, /^[0-9a-f]{32}$/);
  assert.match(token, /^[0-9a-f]{64}$/);
  const { body: { tips } } = await server.api('GET', '/v1/tips');
  const stored = tips.find((t) => t.tip_id === id);
  assert.ok(stored, `the server has no tip ${id}`);
  const { category, description, urls, contact, items, status } = stored;
  assert.deepEqual({ category, description, urls, contact, items }, body);
  assert.equal(status, 'received');

  await page.getByRole('button', { name: 'Check the status' }).click();
  await page.getByText(new RegExp(`^Report ${id}: received \\(sent \\S+, last updated \\S+\\)\\. Case number: PP-[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{4}\\.$`)).waitFor();
  const statusRequest = requests.at(-1);
  assert.equal(statusRequest.path, `/v1/tips/${id}`);
  assert.equal(await statusRequest.request.headerValue('authorization'), `Bearer ${token}`);
  // A reviewer moves the tip on; the page shows the new status.
  assert.equal((await server.api('PATCH', `/v1/tips/${id}`, { status: 'in_review' })).status, 204);
  await page.getByRole('button', { name: 'Check the status' }).click();
  await page.getByText(new RegExp(`^Report ${id}: being reviewed`)).waitFor();
  // Accepted: its hashes are in the exchange feed; a platform blocks a match; the reporter
  // withdraws it from the page.
  assert.equal((await server.api('POST', `/v1/tips/${id}/review`, { decision: 'accept' })).status, 204);
  const platform = (await server.api('POST', '/v1/keys', { scopes: ['exchange'], label: 'platform' })).body.key;
  const feedback = await fetch(new URL('/v1/stopncii/SubmitFeedback', server.url), {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'ocp-apim-subscription-key': platform, 'x-functions-key': platform },
    body: JSON.stringify({ count: 1, hashFeedbacks: [{ hashValue: stored.items.find((i) => i.pdq).pdq, feedbackValue: 'Blocked', tags: [] }] }),
  });
  assert.equal(feedback.status, 200, await feedback.clone().text());
  assert.deepEqual(await feedback.json(), { count: 1 });
  since.served += 1; // the platform's request, not the page's
  await page.getByRole('button', { name: 'Check the status' }).click();
  await page.getByText(new RegExp(`^Report ${id}: accepted: .* A platform has blocked a match\\. Case number`)).waitFor();
  await page.getByRole('button', { name: 'Withdraw this report' }).click();
  await page.getByText(new RegExp(`^Report ${id}: withdrawn: `)).waitFor();
  assert.equal(requests.at(-1).path, `/v1/tips/${id}/withdraw`);
  const { body: { tips: after } } = await server.api('GET', '/v1/tips');
  assert.deepEqual(after.find((t) => t.tip_id === id).items, []);
  await page.getByLabel('Secret code').fill('0'.repeat(64));
  await page.getByRole('button', { name: 'Check the status' }).click();
  await page.getByText('No report with this id and secret code.').waitFor();
  assert.equal((await requests.at(-1).request.response()).status(), 404);

  assertNoRunOf(requests, readFileSync(vectorPath(RGBA)), 'RGBA.png');
  assertNoRunOf(requests, video.buffer, 'clip.mp4');
  const api = await assertAllApiRequestsRecorded(since, requests);
  assert.deepEqual(outside, []);
  assert.deepEqual(errors, []);
  console.log(`report page [Chromium, pixelprint-server]: preview equals the ${sent[0].body.length}-byte body sent and the tip stored; ` +
    `receipt and status (received, being reviewed, accepted with a platform's block, withdrawn, wrong code) work; ${requests.length} requests (${api} to the API) carry no file bytes`);
  await page.close();
});

test('both pages are keyboard-usable and linked from the index page', async () => {
  const { page } = await newPage();
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
