// The npm package in headless Chromium, served by the matching server under the pages' CSP: the
// worker's results equal the CLI bit for bit; the browser's decoder takes formats the wasm
// module does not decode; abort, coded errors, and the page stays responsive while a 24 MP
// image is hashed.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { vectorPath, startHarness, startLongTaskProbe, finishLongTaskProbe, assertNoLongTask } from './helpers.mjs';
import { cliHash, camel, ALL, makePng, png24Mp, pngClaiming, icoWrapping } from './images.mjs';

let harness;
let page;
const tmp = mkdtempSync(join(tmpdir(), 'pixelprint-pkg-'));
before(async () => {
  harness = await startHarness();
  ({ page } = harness);
});
after(async () => {
  await harness?.close();
  rmSync(tmp, { recursive: true, force: true });
});

/**
 * Hashes bytes in the page's worker (`workers`: the default hasher's, or one made with that
 * many workers); resolves to the result or {error: {name, code, message}}.
 */
function hashInPage(bytes, options, name = 'file', workers = undefined) {
  return page.evaluate(async ({ b64, options, name, workers }) => {
    const file = new File([window.bytesOf(b64)], name);
    window.hashers ??= {};
    if (workers && !window.hashers[workers]) window.hashers[workers] = await window.pixelprint.createHasher({ workers });
    const hasher = workers ? window.hashers[workers] : window.hasher;
    try {
      return await hasher.hash(file, options);
    } catch (e) {
      return { error: { name: e.name, code: e.code, message: e.message } };
    }
  }, { b64: Buffer.from(bytes).toString('base64'), options, name, workers });
}

function strip(result) {
  const { timings, orientation, decodedBy, ...rest } = result;
  return rest;
}

test('worker results equal the CLI bit for bit: EXIF-rotated JPEG (both policies), PNG with alpha, WebP', async () => {
  assert.equal(await page.evaluate(() => window.hasher.mode), 'worker');
  const files = ['reg-test-input/exif-rotn/exif-rotn-6.jpg', 'misc-images/modes/RGBA.png', 'reg-test-input/pen-and-coaster.png', 'misc-images/modes/F.webp'];
  for (const orientation of ['ignore', 'apply']) {
    const expected = cliHash(ALL, orientation, files.map((f) => fileURLToPath(vectorPath(f))));
    for (const [i, file] of files.entries()) {
      // One worker, and two with the request split between them (PDQ | the rest).
      for (const workers of [1, 2]) {
        const got = await hashInPage(readFileSync(vectorPath(file)), { algorithms: ALL.split(','), orientation }, 'file', workers);
        assert.equal(got.error, undefined, JSON.stringify(got.error));
        assert.equal(got.decodedBy, 'wasm');
        assert.equal(got.timings.threads, workers);
        // deepEqual ignores key order: the merged result must list the keys as one worker does.
        assert.deepEqual(Object.keys(strip(got)), Object.keys(camel(expected[i])), `${file}: key order`);
        assert.deepEqual(strip(got), camel(expected[i]), `${file} (${orientation}, ${workers} workers)`);
        if (orientation === 'ignore' && file.endsWith('.jpg')) assert.equal(got.orientation, 6);
        const t = got.timings;
        console.log(`package [Chromium, ${workers} worker(s)]: ${file} ${got.width}x${got.height} orientation=${orientation}, 11 algorithms: ` +
          `read ${t.readMs.toFixed(0)} ms, hash ${t.hashMs.toFixed(0)} ms, total ${t.totalMs.toFixed(0)} ms; equals the CLI`);
      }
    }
  }
  const jpeg = await hashInPage(readFileSync(vectorPath(files[0])), { algorithms: ['pdq'] });
  assert.equal(jpeg.orientation, 6);
});

test('a format only the browser decodes (PNG inside ICO) is hashed from the browser-decoded pixels', async () => {
  const png = makePng(200, 150, (x, y) => [(x * 7 + y * 3) & 255, (x * y) & 255, (y * 11) & 255]);
  const pngPath = join(tmp, 'pattern.png');
  const icoPath = join(tmp, 'pattern.ico');
  writeFileSync(pngPath, png);
  const ico = icoWrapping(png, 200, 150);
  writeFileSync(icoPath, ico);
  const pixelAlgorithms = 'pdq,pdq-dihedral,ahash,dhash,dhash-vertical,phash,phash16,whash';
  const [pixels] = cliHash(pixelAlgorithms, 'ignore', [pngPath]);
  const [digests] = cliHash('md5,sha1,sha256', 'ignore', [icoPath]);
  // The wasm module itself refuses ICO.
  assert.throws(() => cliHash('pdq', 'ignore', [icoPath]), (e) => e.status === 2);
  const got = await hashInPage(ico, { algorithms: ALL.split(',') }, 'pattern.ico');
  assert.equal(got.error, undefined, JSON.stringify(got.error));
  assert.equal(got.decodedBy, 'browser');
  const { format, ...want } = camel({ ...pixels, ...digests });
  assert.deepEqual({ ...strip(got), format: undefined }, { ...want, format: undefined });
  console.log(`package [Chromium worker]: ICO decoded by the browser, 8 pixel hashes equal the CLI on the same pixels, digests of the ICO bytes equal`);
});

test('abort rejects with an AbortError and does not block the next job', async () => {
  const jpeg = readFileSync(vectorPath('reg-test-input/exif-rotn/exif-rotn-6.jpg'));
  for (const workers of [1, 2]) {
    const outcome = await page.evaluate(async ({ b64, workers }) => {
      const hasher = await window.pixelprint.createHasher({ workers });
      const file = new File([window.bytesOf(b64)], 'big.jpg');
      const results = {};
      // 1: cancelled while the wasm module hashes (the worker is replaced).
      const c1 = new AbortController();
      const stages = [];
      const t0 = performance.now();
      const first = hasher.hash(file, {
        algorithms: ['pdq', 'phash'], signal: c1.signal,
        onProgress: (p) => { stages.push(p.stage); if (p.stage === 'hash') c1.abort(); },
      });
      // 2: queued behind it, cancelled before it starts.
      const c2 = new AbortController();
      const second = hasher.hash(file, { algorithms: ['pdq'], signal: c2.signal });
      second.catch(() => {});
      c2.abort();
      const third = hasher.hash(file, { algorithms: ['pdq'] });
      for (const [name, p] of [['first', first], ['second', second]]) {
        try {
          await p;
          results[name] = 'resolved';
        } catch (e) {
          results[name] = e.name;
        }
      }
      results.abortMs = performance.now() - t0;
      results.stages = stages;
      const thirdResult = await third;
      results.third = thirdResult.pdq;
      // PDQ with pHash: split between the two workers when there are two.
      results.firstThreads = (await hasher.hash(file, { algorithms: ['pdq', 'phash'] })).timings.threads;
      hasher.terminate();
      return results;
    }, { b64: jpeg.toString('base64'), workers });
    assert.equal(outcome.first, 'AbortError');
    assert.equal(outcome.second, 'AbortError');
    assert.ok(outcome.stages.includes('hash'));
    const [want] = cliHash('pdq', 'ignore', [fileURLToPath(vectorPath('reg-test-input/exif-rotn/exif-rotn-6.jpg'))]);
    assert.deepEqual(outcome.third, want.pdq);
    assert.equal(outcome.firstThreads, workers);
    console.log(`package [Chromium, ${workers} worker(s)]: a job aborted during hashing rejected after ${outcome.abortMs.toFixed(0)} ms; a queued one was dropped; the next job equals the CLI`);
  }
});

test('a truncated JPEG, a text file named .jpg and a PNG claiming 30000x30000 pixels give coded errors; the next file works', async () => {
  const jpeg = readFileSync(vectorPath('reg-test-input/exif-rotn/exif-rotn-6.jpg'));
  const cases = [
    ['truncated.jpg', jpeg.subarray(0, jpeg.length >> 1), 'truncated_image'],
    ['notes.jpg', Buffer.from('these are my notes, not a photo\n'), 'unsupported_format'],
    ['huge.png', pngClaiming(30000, 30000), 'too_many_pixels'],
  ];
  const webp = readFileSync(vectorPath('misc-images/modes/F.webp'));
  const [want] = cliHash('pdq', 'ignore', [fileURLToPath(vectorPath('misc-images/modes/F.webp'))]);
  for (const [name, bytes, code] of cases) {
    for (const workers of [1, 2]) {
      // With two workers, both halves fail; the request rejects once, with the same error.
      const got = await hashInPage(bytes, { algorithms: ['pdq', 'dhash', 'md5'] }, name, workers);
      assert.equal(got.error?.code, code, `${name}: ${JSON.stringify(got)}`);
      assert.equal(got.error.name, 'PixelprintError');
      assert.ok(got.error.message.length > 10, got.error.message);
      const next = await hashInPage(webp, { algorithms: ['pdq', 'dhash'] }, 'F.webp', workers);
      assert.deepEqual(next.pdq, want.pdq, `after ${name}`);
      assert.equal(next.timings.threads, workers);
      console.log(`package [Chromium, ${workers} worker(s)]: ${name} -> ${code}: ${got.error.message}`);
    }
  }
});

test('the page stays responsive while a 24 MP image is hashed in the worker', async () => {
  const [w, h] = [6000, 4000];
  const png = png24Mp();
  // The file is made before the probe starts: only the hashing is watched.
  await page.evaluate((b64) => {
    window.bigFile = new File([window.bytesOf(b64)], 'big.png', { type: 'image/png' });
  }, png.toString('base64'));
  await page.evaluate(startLongTaskProbe);
  const got = await page.evaluate(async () => {
    const result = await window.hasher.hash(window.bigFile, { algorithms: ['pdq', 'phash', 'md5'] });
    return { width: result.width, height: result.height, pdq: result.pdq, timings: result.timings };
  });
  const probe = await page.evaluate(finishLongTaskProbe);
  assert.equal(got.width, w);
  assert.equal(got.height, h);
  assert.match(got.pdq.hash, /^[0-9a-f]{64}$/);
  assert.ok(got.timings.hashMs > 100, `hashing took ${got.timings.hashMs} ms: too short to show anything`);
  const worst = assertNoLongTask(probe, 'hashing');
  console.log(`package [Chromium worker]: 24 MP PNG (${(png.length / 1e6).toFixed(1)} MB) hashed in ${got.timings.hashMs.toFixed(0)} ms ` +
    `(total ${got.timings.totalMs.toFixed(0)} ms); main thread: ${probe.longTasks.length} long tasks (worst ${worst.toFixed(0)} ms), largest timer gap ${probe.maxGap.toFixed(0)} ms`);
});
