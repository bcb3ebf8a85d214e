// The npm package in Node: createHasher() runs inline and its results equal the CLI's for the
// same files and options (camelCase keys, same values); coded errors; abort; hashMany.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { vectorPath } from './helpers.mjs';
import { cliHash, camel, ALL, pngClaiming } from './images.mjs';
import { createHasher } from '../package/index.js';
import { splitAlgorithms, mergeResults } from '../package/lib/core.js';

const hasher = await createHasher();

function strip(result) {
  const { timings, orientation, decodedBy, ...rest } = result;
  return rest;
}

test('the package in Node equals the CLI on JPEG, PNG, WebP, CMYK and EXIF-rotated files', async () => {
  assert.equal(hasher.mode, 'inline');
  const files = ['reg-test-input/exif-rotn/exif-rotn-6.jpg', 'misc-images/modes/RGBA.png', 'misc-images/modes/F.webp',
    'misc-images/modes/CMYK.jpg', 'reg-test-input/pen-and-coaster.png', 'bridge-mods/aaa-orig.jpg'];
  let compared = 0;
  for (const orientation of ['ignore', 'apply']) {
    const expected = cliHash(ALL, orientation, files.map((f) => fileURLToPath(vectorPath(f))));
    for (const [i, file] of files.entries()) {
      const bytes = readFileSync(vectorPath(file));
      // As a Blob (File in browsers) and as bytes: same result.
      for (const input of [new Blob([bytes]), new Uint8Array(bytes)]) {
        const got = await hasher.hash(input, { algorithms: ALL.split(','), orientation });
        assert.equal(got.decodedBy, 'wasm');
        assert.deepEqual(strip(got), camel(expected[i]), `${file} (${orientation})`);
        assert.ok(got.timings.totalMs >= got.timings.hashMs);
        compared++;
      }
    }
  }
  console.log(`package [Node ${process.versions.node}]: ${compared} results (${files.length} files x 2 orientations x Blob/bytes) equal the CLI on 11 algorithms`);
});

test('a request splits into a PDQ half and an imagehash half whose merged results equal the whole', async () => {
  assert.deepEqual(splitAlgorithms(undefined), [['pdq'], ['ahash', 'dhash', 'phash', 'md5', 'sha256']]);
  assert.deepEqual(splitAlgorithms('PDQ, dhash_vertical,sha1'), [['PDQ'], ['dhash_vertical', 'sha1']]);
  assert.deepEqual(splitAlgorithms(['pdqDihedral', 'whash']), [['pdq-dihedral'], ['whash']]);
  // Nothing to run beside PDQ (digests are cheap), no PDQ, or a name the module will refuse.
  for (const whole of [['pdq', 'md5', 'sha256'], ['pdq', 'pdq-dihedral'], ['ahash', 'dhash'], ['pdq', 'dhash', 'nope'], []]) {
    assert.equal(splitAlgorithms(whole), null, whole.join());
  }
  const files = ['reg-test-input/exif-rotn/exif-rotn-6.jpg', 'misc-images/modes/RGBA.png', 'misc-images/modes/CMYK.jpg'];
  for (const file of files) {
    const bytes = readFileSync(vectorPath(file));
    for (const algorithms of [undefined, ALL.split(','), ['whash', 'pdq-dihedral', 'sha1', 'pdq']]) {
      const whole = await hasher.hash(bytes, algorithms ? { algorithms } : {});
      const [first, second] = splitAlgorithms(algorithms);
      const merged = mergeResults(await hasher.hash(bytes, { algorithms: first }), await hasher.hash(bytes, { algorithms: second }));
      const { timings, ...rest } = merged;
      const { timings: wholeTimings, ...wholeRest } = whole;
      assert.deepEqual(Object.keys(rest), Object.keys(wholeRest), `${file} ${algorithms}: key order`);
      assert.deepEqual(rest, wholeRest, `${file} ${algorithms}`);
      assert.equal(timings.threads, 2);
      assert.equal(wholeTimings.threads, 1);
    }
  }
});

test('digests are the same from Web Crypto, from a shared buffer it refuses, and from the module', async () => {
  const bytes = readFileSync(vectorPath('misc-images/modes/F.webp'));
  const shared = new Uint8Array(new SharedArrayBuffer(bytes.length));
  shared.set(bytes);
  const want = cliHash('md5,sha1,sha256', 'ignore', [fileURLToPath(vectorPath('misc-images/modes/F.webp'))])[0];
  for (const input of [new Uint8Array(bytes), shared]) {
    // Digests alone (Web Crypto only for SHA), and with pixel hashes (beside the decode).
    for (const algorithms of [['sha256', 'sha1'], ['md5', 'sha1', 'sha256'], ['pdq', 'SHA256', 'SHA1']]) {
      const got = await hasher.hash(input, { algorithms });
      assert.equal(got.sha256, want.sha256, `${algorithms}`);
      assert.equal(got.sha1, want.sha1, `${algorithms}`);
      if (algorithms.includes('md5')) assert.equal(got.md5, want.md5);
      // Keys in the module's order: digests last, sha1 before sha256.
      const keys = Object.keys(strip(got));
      assert.ok(keys.indexOf('sha1') < keys.indexOf('sha256') && keys.at(-1) === 'sha256', keys.join());
    }
  }
});

test('progress reports bytes read and the stages', async () => {
  const bytes = readFileSync(vectorPath('misc-images/modes/F.webp'));
  const seen = [];
  await hasher.hash(new Blob([bytes]), { algorithms: ['pdq'], onProgress: (p) => seen.push(p) });
  assert.deepEqual([...new Set(seen.map((p) => p.stage))], ['read', 'hash', 'done']);
  const reads = seen.filter((p) => p.stage === 'read');
  assert.equal(reads.at(-1).bytesRead, bytes.length);
  assert.equal(reads.at(-1).totalBytes, bytes.length);
});

test('coded errors, and the hasher keeps working', async () => {
  const jpeg = readFileSync(vectorPath('reg-test-input/exif-rotn/exif-rotn-6.jpg'));
  const cases = [
    [jpeg.subarray(0, jpeg.length >> 1), 'truncated_image'],
    [Buffer.from('this is a text file, not a JPEG\n'), 'unsupported_format'],
    [pngClaiming(30000, 30000), 'too_many_pixels'],
    [new Uint8Array(0), 'empty_input'],
  ];
  for (const [bytes, code] of cases) {
    await assert.rejects(hasher.hash(bytes, { algorithms: ['pdq'] }), (e) => e.code === code && e.message.length > 0);
  }
  await assert.rejects(hasher.hash(jpeg, { algorithm: ['pdq'] }), (e) => e.code === 'invalid_option');
  await assert.rejects(hasher.hash('a string'), (e) => e.code === 'invalid_input');
  assert.match((await hasher.hash(jpeg, { algorithms: ['pdq'] })).pdq.hash, /^[0-9a-f]{64}$/);
});

test('an aborted signal rejects with an AbortError', async () => {
  const controller = new AbortController();
  controller.abort();
  await assert.rejects(hasher.hash(new Uint8Array(8), { signal: controller.signal }), (e) => e.name === 'AbortError');
  // Aborted while reading a Blob: between chunks.
  const late = new AbortController();
  const big = new Blob([new Uint8Array(8 << 20)]);
  const job = hasher.hash(big, { algorithms: ['md5'], signal: late.signal, onProgress: (p) => p.bytesRead > 0 && late.abort() });
  await assert.rejects(job, (e) => e.name === 'AbortError');
  assert.deepEqual(await hasher.hash(new TextEncoder().encode('abc'), { algorithms: ['md5'] }).then((r) => r.md5), '900150983cd24fb0d6963f7d28e17f72');
});

test('hashMany yields a result or an error per file, in order', async () => {
  const files = [readFileSync(vectorPath('misc-images/modes/F.webp')), Buffer.from('nope'), new TextEncoder().encode('abc')];
  const items = [];
  for await (const item of hasher.hashMany(files, { algorithms: ['pdq', 'md5'] })) items.push(item);
  assert.equal(items.length, 3);
  assert.equal(items[0].file, files[0]);
  assert.match(items[0].result.pdq.hash, /^[0-9a-f]{64}$/);
  assert.equal(items[1].error.code, 'unsupported_format');
  assert.equal(items[2].error.code, 'unsupported_format');
});
