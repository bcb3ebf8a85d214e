// The demo page in headless Chromium, served by the matching server: a person picks an image,
// the page shows its PDQ hash and quality, computed in the page, equal to the reference's
// canonical row.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { expectedRows, vectorPath, launchBrowser, startServer } from './helpers.mjs';

let server;
let browser;
before(async () => {
  server = await startServer();
  browser = await launchBrowser();
});
after(async () => {
  await browser?.close();
  await server?.stop();
});

test('the demo page hashes a picked image in the browser and shows the reference hash', async () => {
  const rows = expectedRows('cpp-core-fullres.txt');
  const page = await browser.context.newPage();
  const requests = [];
  page.on('request', (r) => requests.push(r));
  const errors = [];
  page.on('pageerror', (e) => errors.push(e));
  await page.goto(server.url);
  await page.getByText('Ready. Pick an image.').waitFor();
  // Lossless images whose browser-decoded pixels are the stored pixels (no colour profile,
  // opaque), so the hash must equal the canonical row bit for bit.
  const files = ['misc-images/modes/P.png', 'misc-images/modes/RGBA.png'];
  for (const file of files) {
    await page.getByLabel('Image file').setInputFiles(fileURLToPath(vectorPath(file)));
    await page.getByText(`Done: ${file.split('/').pop()}`).waitFor();
    const row = rows.find((r) => r.file === file);
    assert.equal(await page.locator('#hash').textContent(), row.hash, file);
    assert.equal(Number(await page.locator('#quality').textContent()), row.quality, file);
  }
  assert.deepEqual(errors, []);
  // The page fetched only its own files; it sent nothing.
  for (const r of requests) {
    assert.equal(r.method(), 'GET', r.url());
    assert.ok(r.url().startsWith(server.url), r.url());
  }
  console.log(`demo page [Chromium]: ${files.length} picked images hashed in the page, bit-exact`);
  await page.close();
});

test('the demo page reports a file it cannot decode and keeps working', async () => {
  const page = await browser.context.newPage();
  await page.goto(server.url);
  await page.getByText('Ready. Pick an image.').waitFor();
  await page.getByLabel('Image file').setInputFiles({ name: 'not-an-image.jpg', mimeType: 'image/jpeg', buffer: Buffer.from('hello') });
  await page.getByText(/Could not hash not-an-image\.jpg/).waitFor();
  await page.getByLabel('Image file').setInputFiles(fileURLToPath(vectorPath('misc-images/modes/P.png')));
  await page.getByText('Done: P.png').waitFor();
  await page.close();
});
