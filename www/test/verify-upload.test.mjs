// examples/verify-upload, run as its README says (its own process, real HTTP on 127.0.0.1):
// an upload whose hashes the package computed on the same bytes is accepted; a claim that
// differs from the bytes (one PDQ bit, a pHash, another image's hashes, a quality, a dihedral
// variant) is refused as a mismatch; a missing or garbled claim gets a 4xx that says what.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { spawn } from 'node:child_process';
import http from 'node:http';
import { fileURLToPath } from 'node:url';
import { repo, vectorPath } from './helpers.mjs';
import { createHasher } from '../package/index.js';
import { ALGORITHMS } from '../../examples/verify-upload/server.mjs';

const MAX_BYTES = 4 << 20;

/** The example's server, started as a user would, with a 4 MiB upload limit. */
async function startExample() {
  const script = fileURLToPath(new URL('examples/verify-upload/server.mjs', repo));
  const child = spawn(process.execPath, [script, '--port', '0', '--max-bytes', String(MAX_BYTES)], { stdio: ['ignore', 'pipe', 'pipe'] });
  let log = '';
  child.stderr.on('data', (chunk) => {
    log += chunk;
  });
  const url = await new Promise((resolve, reject) => {
    let out = '';
    child.stdout.on('data', (chunk) => {
      out += chunk;
      const m = /^listening on (http:\/\/127\.0\.0\.1:\d+\/upload)\n/.exec(out);
      if (m) resolve(m[1]);
    });
    child.on('exit', (code) => reject(new Error(`the example ended (${code}) before listening:\n${log}`)));
    setTimeout(() => reject(new Error(`the example did not listen in 30 s:\n${log}`)), 30_000).unref();
  });
  return { url, log: () => log, stop: () => child.kill() };
}

const example = await startExample();
after(() => example.stop());
const hasher = await createHasher();

const image = (p) => readFileSync(vectorPath(p));
const ORIGINAL = 'bridge-mods/aaa-orig.jpg';

/** What the page sends: the file and, unless left out, the `hashes` field's text. */
async function upload(bytes, hashes, name = 'photo.jpg') {
  const form = new FormData();
  if (bytes) form.append('file', new Blob([bytes]), name);
  if (hashes !== undefined) form.append('hashes', typeof hashes === 'string' ? hashes : JSON.stringify(hashes));
  const r = await fetch(example.url, { method: 'POST', body: form });
  return { status: r.status, body: await r.json() };
}

/** What the page computes: the package's result for the site's algorithms. */
const claimOf = (bytes) => hasher.hash(new Blob([bytes]), { algorithms: ALGORITHMS });

/** `hex` with bit `bit` (0 = the last digit's lowest) flipped. */
function flipBit(hex, bit) {
  const at = hex.length - 1 - (bit >> 2);
  return hex.slice(0, at) + (parseInt(hex[at], 16) ^ (1 << (bit & 3))).toString(16) + hex.slice(at + 1);
}

function hamming(a, b) {
  let bits = 0;
  for (let i = 0; i < a.length; i++) for (let x = parseInt(a[i], 16) ^ parseInt(b[i], 16); x; x &= x - 1) bits++;
  return bits;
}

function refused(r, status, code, what = '') {
  assert.equal(r.status, status, `${what}: ${JSON.stringify(r.body)}`);
  assert.equal(r.body.error.code, code, JSON.stringify(r.body));
  assert.ok(r.body.error.message.length > 10, JSON.stringify(r.body));
  assert.equal(r.body.verified, undefined);
}

test('an upload with the hashes the package computed on its bytes is accepted, and answered with the server\'s own', async () => {
  for (const file of [ORIGINAL, 'misc-images/modes/RGBA.png', 'reg-test-input/exif-rotn/exif-rotn-6.jpg', 'misc-images/modes/F.webp']) {
    const bytes = image(file);
    const claim = await claimOf(bytes);
    const r = await upload(bytes, claim);
    assert.equal(r.status, 200, `${file}: ${JSON.stringify(r.body)}`);
    assert.equal(r.body.verified, true);
    assert.equal(r.body.size, bytes.length);
    // The item for the matching server comes from the server's hashing, and equals the claim.
    assert.deepEqual(r.body.item, {
      pdq: claim.pdq.hash, pdq_quality: claim.pdq.quality, pdq_dihedral: claim.pdqDihedral,
      phash: claim.phash, dhash: claim.dhash, md5: claim.md5, sha256: claim.sha256,
    }, file);
  }
  // Hex in capitals is the same claim.
  const bytes = image(ORIGINAL);
  const claim = await claimOf(bytes);
  assert.equal((await upload(bytes, { ...claim, phash: claim.phash.toUpperCase() })).status, 200);
});

test('a claim that is not the file\'s hashes is refused, naming what differs', async () => {
  const bytes = image(ORIGINAL);
  const honest = await claimOf(bytes);
  const other = await claimOf(image('reg-test-input/pen-and-coaster.png'));
  const blurred = await claimOf(image('bridge-mods/blur-a-little.jpg'));
  const cases = [
    // One bit of PDQ: the smallest lie, 1 bit from the truth, still refused.
    ['one PDQ bit flipped', { ...honest, pdq: { ...honest.pdq, hash: flipBit(honest.pdq.hash, 77) } }, ['pdq.hash']],
    ['pHash replaced', { ...honest, phash: honest.phash === '0123456789abcdef' ? 'fedcba9876543210' : '0123456789abcdef' }, ['phash']],
    ['pHash of another image', { ...honest, phash: other.phash }, ['phash']],
    ['PDQ quality raised', { ...honest, pdq: { ...honest.pdq, quality: honest.pdq.quality === 100 ? 99 : 100 } }, ['pdq.quality']],
    ['a dihedral variant swapped', { ...honest, pdqDihedral: honest.pdqDihedral.map((h, i) => (i === 3 ? honest.pdqDihedral[2] : h)) }, ['pdqDihedral[3]']],
    ['SHA-256 of other bytes', { ...honest, sha256: other.sha256 }, ['sha256']],
  ];
  for (const [what, claim, fields] of cases) {
    const r = await upload(bytes, claim);
    refused(r, 422, 'hash_mismatch', what);
    assert.deepEqual(r.body.error.fields, fields, what);
  }
  // Another image's hashes with this file (or this file swapped in after hashing another):
  // every hash differs.
  const r = await upload(bytes, other);
  refused(r, 422, 'hash_mismatch');
  assert.deepEqual(r.body.error.fields, ['pdq.hash', ...honest.pdqDihedral.map((_, i) => `pdqDihedral[${i}]`), 'phash', 'dhash', 'md5', 'sha256']);
  // A slightly blurred copy's hashes: its PDQ is within the match threshold of this file's and
  // its pHash equal, but the claim is still not this file's.
  assert.ok(hamming(blurred.pdq.hash, honest.pdq.hash) <= 31 && blurred.phash === honest.phash);
  const near = await upload(bytes, blurred);
  refused(near, 422, 'hash_mismatch');
  for (const field of ['pdq.hash', 'md5', 'sha256']) assert.ok(near.body.error.fields.includes(field), JSON.stringify(near.body));
  assert.match(example.log(), /refused: the hashes sent with the file are not the file's: pdq\.hash differ/);
});

test('a missing or garbled claim, a missing file or a file the server cannot hash gets a 4xx saying what', async () => {
  const bytes = image(ORIGINAL);
  const honest = await claimOf(bytes);
  const { phash, ...withoutPhash } = honest;
  const cases = [
    [await upload(bytes, undefined), 400, 'missing_claim'],
    [await upload(bytes, ''), 400, 'missing_claim'],
    [await upload(bytes, '{"pdq": '), 400, 'malformed_claim'],
    [await upload(bytes, '[1, 2]'), 400, 'malformed_claim'],
    [await upload(bytes, 'null'), 400, 'malformed_claim'],
    [await upload(bytes, withoutPhash), 400, 'invalid_claim', 'phash'],
    [await upload(bytes, { ...honest, pdq: honest.pdq.hash }), 400, 'invalid_claim', 'pdq'],
    [await upload(bytes, { ...honest, pdq: { ...honest.pdq, hash: honest.pdq.hash.slice(1) } }), 400, 'invalid_claim', 'pdq.hash'],
    [await upload(bytes, { ...honest, pdq: { ...honest.pdq, quality: '90' } }), 400, 'invalid_claim', 'pdq.quality'],
    [await upload(bytes, { ...honest, dhash: `zz${honest.dhash.slice(2)}` }), 400, 'invalid_claim', 'dhash'],
    [await upload(bytes, { ...honest, pdqDihedral: honest.pdqDihedral.slice(0, 7) }), 400, 'invalid_claim', 'pdqDihedral'],
    [await upload(bytes, { ...honest, pdqDihedral: [...honest.pdqDihedral.slice(0, 7), 42] }), 400, 'invalid_claim', 'pdqDihedral[7]'],
    [await upload(null, honest), 400, 'missing_file'],
    // Not an image the package decodes: nothing to check the claim against.
    [await upload(Buffer.from('a text file, not an image\n'), honest, 'notes.txt'), 422, 'undecodable_image'],
    [await upload(bytes.subarray(0, 2000), honest), 422, 'undecodable_image'],
  ];
  for (const [r, status, code, field] of cases) {
    refused(r, status, code);
    if (field) assert.equal(r.body.error.field, field, JSON.stringify(r.body));
  }

  // Not a form, another method or path.
  const json = await fetch(example.url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(honest) });
  refused({ status: json.status, body: await json.json() }, 415, 'not_multipart');
  const get = await fetch(example.url);
  refused({ status: get.status, body: await get.json() }, 405, 'method_not_allowed');
  const elsewhere = await fetch(new URL('/other', example.url), { method: 'POST' });
  refused({ status: elsewhere.status, body: await elsewhere.json() }, 404, 'not_found');
  const garbled = await fetch(example.url, { method: 'POST', headers: { 'content-type': 'multipart/form-data; boundary=x' }, body: 'no parts here' });
  refused({ status: garbled.status, body: await garbled.json() }, 400, 'malformed_form');
});

test('a body over the limit is refused with 413, whether declared or streamed', async () => {
  const big = new Uint8Array(MAX_BYTES + 1);
  const r = await upload(big, '{}');
  refused(r, 413, 'too_large');
  // Declared too large: answered before the body is sent.
  const declared = await new Promise((resolve, reject) => {
    const req = http.request(example.url, {
      method: 'POST', headers: { 'content-type': 'multipart/form-data; boundary=x', 'content-length': String(MAX_BYTES * 4) },
    }, (res) => {
      let text = '';
      res.on('data', (c) => {
        text += c;
      });
      res.on('end', () => {
        resolve({ status: res.statusCode, body: JSON.parse(text) });
        req.destroy();
      });
    });
    req.on('error', reject);
    req.flushHeaders();
  });
  refused(declared, 413, 'too_large');
  // Streamed without a length: cut off at the limit.
  const chunked = await new Promise((resolve, reject) => {
    const req = http.request(example.url, { method: 'POST', headers: { 'content-type': 'multipart/form-data; boundary=x', 'transfer-encoding': 'chunked' } }, (res) => {
      let text = '';
      res.on('data', (c) => {
        text += c;
      });
      res.on('end', () => resolve({ status: res.statusCode, body: JSON.parse(text) }));
    });
    req.on('error', reject);
    const chunk = Buffer.alloc(64 * 1024);
    let sent = 0;
    const pump = () => {
      while (sent <= MAX_BYTES * 2) {
        sent += chunk.length;
        if (!req.write(chunk)) return req.once('drain', pump);
      }
      req.end();
    };
    pump();
  });
  refused(chunked, 413, 'too_large');
  // The server still answers.
  const bytes = image(ORIGINAL);
  assert.equal((await upload(bytes, await claimOf(bytes))).status, 200);
});
