// hashBytes in Node (the wasm package) gives exactly what the `pixelprint` CLI prints for the
// same files, and coded errors for files it cannot hash.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { repo, vectorPath, loadWasm, cliPath } from './helpers.mjs';
import { makePng } from './images.mjs';

const wasm = await loadWasm();
const root = fileURLToPath(repo);

function cli(args) {
  const out = execFileSync(cliPath(), args, { cwd: root, encoding: 'utf8' });
  return out.trim().split('\n').map((l) => JSON.parse(l));
}

const ALL = 'pdq,pdq-dihedral,pdq-trimmed,pdq-embedded,pdq-captioned,pdq-straightened,ahash,dhash,dhash-vertical,phash,phash-mirrored,phash16,whash,md5,sha1,sha256';

test('hashBytes equals the CLI for every algorithm on JPEG, PNG, WebP, CMYK and EXIF-rotated files', () => {
  const files = [
    'bridge-mods/aaa-orig.jpg', 'misc-images/modes/P.png', 'misc-images/modes/RGBA.png', 'misc-images/modes/LA.png',
    'misc-images/modes/CMYK.jpg', 'misc-images/modes/F.webp', 'misc-images/wee.jpg', 'reg-test-input/exif-rotn/exif-rotn-6.jpg',
  ];
  for (const orientation of ['ignore', 'apply']) {
    const expected = cli(['hash', '--algorithms', ALL, '--orientation', orientation, ...files.map((f) => fileURLToPath(vectorPath(f)))]);
    files.forEach((file, i) => {
      const { path, ...want } = expected[i];
      const got = wasm.hashBytes(readFileSync(vectorPath(file)), { algorithms: ALL.split(','), orientation });
      delete got.orientation;
      assert.deepEqual(got, want, `${file} (${orientation})`);
    });
  }
  console.log(`hashBytes [Node ${process.versions.node}]: ${files.length} files x 2 orientation policies x 11 algorithms equal the CLI`);
});

/** A picture of waves and blocks (w x h), turned by `degrees` counter-clockwise as seen, on a
 * canvas of `fill` grown to hold it or of its own size (nearest pixel), as a PNG. */
function turnedPng(w, h, degrees, grow, fill) {
  const [s, c] = [Math.sin((degrees * Math.PI) / 180), Math.cos((degrees * Math.PI) / 180)];
  const [cw, ch] = grow ? [Math.ceil(w * c + h * Math.abs(s)), Math.ceil(w * Math.abs(s) + h * c)] : [w, h];
  const picture = (x, y) => {
    const v = Math.max(40, Math.min(250, Math.round(120 + Math.sin(x / 37) * 50 + Math.cos(y / 23) * 40
      + ((Math.floor((x * 3) / w) + Math.floor((y * 2) / h)) % 2 === 0 ? 60 : 0))));
    return [v, v - 30, (v >> 1) + 60];
  };
  return makePng(cw, ch, (x, y) => {
    const [px, py] = [x + 0.5 - cw / 2, y + 0.5 - ch / 2];
    const [sx, sy] = [px * c - py * s + w / 2, px * s + py * c + h / 2];
    return sx >= 0 && sy >= 0 && sx < w && sy < h ? picture(Math.floor(sx), Math.floor(sy)) : [fill, fill, fill];
  });
}

test('hashBytes equals the CLI on turned pictures (pdq-straightened) and on the mirrored pHash', () => {
  const dir = mkdtempSync(join(tmpdir(), 'pixelprint-turned-'));
  try {
    const cases = [[5, true, 0], [-7, true, 255], [4, false, 0], [-12, false, 20]];
    const files = cases.map(([degrees, grow, fill], i) => {
      const file = join(dir, `turned-${i}.png`);
      writeFileSync(file, turnedPng(480, 320, degrees, grow, fill));
      return file;
    });
    const algorithms = 'pdq,pdq-straightened,phash,phash-mirrored';
    const expected = cli(['hash', '--algorithms', algorithms, ...files]);
    files.forEach((file, i) => {
      const { path, ...want } = expected[i];
      assert.ok(want.pdq_straightened, `${cases[i]}: the CLI finds the turn`);
      const got = wasm.hashBytes(readFileSync(file), { algorithms: algorithms.split(',') });
      delete got.orientation;
      assert.deepEqual(got, want, `${cases[i]}`);
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('hashBytes reports the EXIF orientation and defaults to the CLI defaults', () => {
  const got = wasm.hashBytes(readFileSync(vectorPath('reg-test-input/exif-rotn/exif-rotn-6.jpg')));
  assert.equal(got.orientation, 6);
  assert.deepEqual(Object.keys(got).sort(), ['ahash', 'dhash', 'format', 'height', 'md5', 'orientation', 'pdq', 'phash', 'sha256', 'width']);
});

test('hashBytes throws coded errors and keeps working', () => {
  const cases = [
    [new Uint8Array(0), 'empty_input'],
    [new TextEncoder().encode('hello, not an image'), 'unsupported_format'],
    [readFileSync(vectorPath('misc-images/wee.jpg')).subarray(0, 2000), 'truncated_image'],
  ];
  for (const [bytes, code] of cases) {
    assert.throws(() => wasm.hashBytes(bytes), (e) => e instanceof Error && e.code === code && e.message.length > 0);
  }
  assert.throws(() => wasm.hashBytes(new Uint8Array(8), { algorithms: ['pdq', 'nope'] }), (e) => e.code === 'unknown_algorithm');
  assert.throws(() => wasm.hashBytes(new Uint8Array(8), { colour: 'x' }), (e) => e.code === 'invalid_option');
  assert.throws(() => wasm.hashBytes(new Uint8Array(8), { orientation: 'sideways' }), /orientation must be/);
  // The shipped module leaves out TIFF (scripts/build-wasm.sh): a TIFF is refused by name, and
  // its digests still work.
  const tiff = readFileSync(new URL('tests/vectors/decode/grey16.tif', repo));
  assert.throws(() => wasm.hashBytes(tiff), (e) => e.code === 'unsupported_format' && /TIFF/.test(e.message));
  assert.equal(wasm.hashBytes(tiff, { algorithms: 'md5' }).md5.length, 32);
  // The shipped module's JPEG decoder leaves out arithmetic coding (and the module has no
  // second JPEG decoder): refused as an unsupported feature, by name, so the package hands
  // the file to the browser's decoder.
  const arithmetic = readFileSync(new URL('tests/vectors/decode/jpeg/cjpeg-arithmetic-64x48.jpg', repo));
  assert.throws(() => wasm.hashBytes(arithmetic), (e) => e.code === 'unsupported_feature' && /arithmetic coding/.test(e.message));
  // Digests need no decoding: any bytes work.
  assert.deepEqual(wasm.hashBytes(new TextEncoder().encode('abc'), { algorithms: 'md5' }), { md5: '900150983cd24fb0d6963f7d28e17f72' });
});
