// The browser benchmark (run by bench/browser/run.sh, which installs what it needs first).
// In headless Chromium, through the npm package as served (www/package/, its worker and .wasm):
//   1. file bytes -> the CLI's default hashes, against the native Python pipeline
//      (bench/browser/anchor.py) on the same file;
//   2. dHash alone, against the npm package browser-image-hash in the same page;
//   3. the package's two JPEG decode paths (wasm, and the browser's decoder as its fallback uses
//      it), bytes -> PDQ, with the hashes' distances to each other, to the CLI and to Pillow's.
// Each part checks its results before timing; our runs and the anchor's alternate, and every
// figure is the median of REPS runs after one untimed warm-up.
//
// usage: node bench/browser/bench.mjs OUT.md   (env: REPS, default 7; WALLPAPERS, default
// /usr/share/wallpapers)
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { spawn, execFileSync } from 'node:child_process';
import { createReadStream, statSync, writeFileSync, readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { cpus, loadavg } from 'node:os';
import { extname, join, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { launchBrowser } from '../../www/test/helpers.mjs';
import { cliHash } from '../../www/test/images.mjs';

const root = fileURLToPath(new URL('../../', import.meta.url));
const out = process.argv[2];
const reps = Number(process.env.REPS ?? 7);
const wallpapers = process.env.WALLPAPERS ?? '/usr/share/wallpapers';
const vectors = join(root, 'tests/vectors/pdq');
const DEFAULTS = ['pdq', 'ahash', 'dhash', 'phash', 'md5', 'sha256'];
// The reference's rule for decoder differences: quality >= 80 implies distance <= 10.
const PDQ_DECODER_TOLERANCE_BITS = 10;

const image = (label, path) => ({ label, path, bytes: statSync(path).size });
const wallpaper = image('wallpaper SafeLanding, a painting (plasma-workspace-wallpapers)', join(wallpapers, 'SafeLanding/contents/images/5120x2880.jpg'));
const phone = image('phone photo exif-rotn-1 (tests/vectors)', join(vectors, 'reg-test-input/exif-rotn/exif-rotn-1.jpg'));
const MAIN = [phone, wallpaper];
const DECODER = [
  phone,
  image('phone photo exif-rotn-6, EXIF orientation 6 (tests/vectors)', join(vectors, 'reg-test-input/exif-rotn/exif-rotn-6.jpg')),
  wallpaper,
  image('wallpaper photo ColdRipple (plasma-workspace-wallpapers)', join(wallpapers, 'ColdRipple/contents/images/2560x1600.jpg')),
  image('bridge photo aaa-orig (tests/vectors)', join(vectors, 'bridge-mods/aaa-orig.jpg')),
  image('wee.jpg, progressive (tests/vectors)', join(vectors, 'misc-images/wee.jpg')),
];

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};
const bitsOf = (hex) => [...hex].map((d) => parseInt(d, 16).toString(2).padStart(4, '0')).join('');
const distance = (a, b) => {
  const [x, y] = [bitsOf(a), bitsOf(b)];
  assert.equal(x.length, y.length);
  return [...x].filter((bit, i) => bit !== y[i]).length;
};
const ms = (x) => (x >= 100 ? x.toFixed(0) : x.toFixed(1));
const ratio = (anchor, ours) => `${(anchor / ours).toFixed(1)}x`;
const goal = (want, ratios) => `Goal: at least ${want}x faster. Measured: ${ratios.map((r) => `${r.toFixed(1)}x`).join(', ')}: ` +
  `${ratios.every((r) => r >= want) ? 'met' : 'not met'}.`;
const mp = (w, h) => `${((w * h) / 1e6).toFixed(1)} MP`;

/** Serves the package (www/package/), the page, browser-image-hash and the images, on 127.0.0.1. */
async function startStaticServer(images) {
  const mounts = {
    '/package/': join(root, 'www/package'),
    '/page/': join(root, 'bench/browser/page'),
    '/bih/': join(root, 'bench/browser/node_modules/browser-image-hash/dist'),
  };
  const types = { '.html': 'text/html', '.js': 'text/javascript', '.wasm': 'application/wasm', '.jpg': 'image/jpeg' };
  const server = createServer((req, res) => {
    const { pathname } = new URL(req.url, 'http://localhost');
    const m = /^\/img\/(\d+)\.jpg$/.exec(pathname);
    let path = m ? images[Number(m[1])]?.path : null;
    for (const [prefix, dir] of Object.entries(mounts)) {
      if (pathname.startsWith(prefix)) {
        const candidate = resolve(dir, decodeURIComponent(pathname.slice(prefix.length)));
        if (candidate.startsWith(dir + sep)) path = candidate;
      }
    }
    let size = null;
    try {
      size = path && statSync(path).isFile() ? statSync(path).size : null;
    } catch {
      size = null;
    }
    if (size === null) {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { 'content-type': types[extname(path)] ?? 'application/octet-stream', 'content-length': size });
    createReadStream(path).pipe(res);
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${server.address().port}`, close: () => new Promise((r) => server.close(r)) };
}

/**
 * The Python pipeline, one process for the whole run: `run(path)` times one pass, `pixels(path)`
 * answers the SHA-256 of Pillow's RGB pixels as stored and upright ({sha256, upright}).
 */
function startAnchor() {
  const child = spawn(process.env.PIXELPRINT_BENCH_PYTHON || 'python3', [join(root, 'bench/browser/anchor.py')], { stdio: ['pipe', 'pipe', 'inherit'] });
  const lines = createInterface({ input: child.stdout })[Symbol.asyncIterator]();
  const ask = async (request) => {
    child.stdin.write(`${JSON.stringify(request)}\n`);
    const { value, done } = await lines.next();
    if (done) throw new Error('the Python anchor ended');
    return JSON.parse(value);
  };
  return {
    run: (path) => ask({ path }),
    pixels: (path) => ask({ path, pixels: true }),
    close: () => child.stdin.end(),
  };
}

/**
 * Runs `ours` and `theirs` alternately (who goes first alternates too). Returns both lists of
 * results and `median(who, field)`, by default of `ms`.
 */
async function alternate(ours, theirs, others = {}) {
  const runners = Object.entries({ ours, theirs, ...others });
  const runs = Object.fromEntries(runners.map(([who]) => [who, []]));
  for (let i = 0; i < reps; i++) {
    // Each runner goes first in turn.
    const order = [...runners.slice(i % runners.length), ...runners.slice(0, i % runners.length)];
    for (const [who, run] of order) runs[who].push(await run());
  }
  const of = (who, field = (r) => r.ms) => median(runs[who].map(field));
  return { runs, ours: of('ours'), theirs: of('theirs'), of };
}

const pixelsVerdict = (d) => {
  if (d.samePixelsAsPillow) return 'yes';
  return d.uprightPixelsOfPillow ? 'no; equal to Pillow\'s after `ImageOps.exif_transpose`' : 'no';
};
const withoutRunFields = ({ timings, orientation, decodedBy, ...rest }) => rest;

async function main() {
  const images = [...new Set([...MAIN, ...DECODER])];
  const urlOf = (img) => `/img/${images.indexOf(img)}.jpg`;
  const cli = cliHash(DEFAULTS.join(','), 'ignore', images.map((x) => x.path));
  const expected = new Map(images.map((img, i) => [img, cli[i]]));
  const server = await startStaticServer(images);
  const anchor = startAnchor();
  const browser = await launchBrowser();
  const loadStart = loadavg().map((x) => x.toFixed(2)).join(', ');
  const report = [];
  try {
    const page = await browser.context.newPage();
    page.on('pageerror', (e) => console.error('page error:', e));
    await page.goto(`${server.url}/page/index.html`);
    await page.getByText('ready').waitFor();
    const userAgent = await page.evaluate(() => window.bench.userAgent);
    const chromium = /Chrome\/([\d.]+)/.exec(userAgent)?.[1] ?? userAgent;
    const inPage = (fn, ...args) => page.evaluate(([name, a]) => window.bench[name](...a), [fn, args]);
    const cores = await page.evaluate(() => window.bench.cores);

    // 1. All default hashes: the package in Chromium against the Python pipeline.
    const main = [];
    for (const img of MAIN) {
      const want = expected.get(img);
      const ours = await inPage('pixelprint', urlOf(img));
      assert.equal(ours.mode, 'worker');
      assert.equal(ours.result.timings.threads, cores >= 2 ? 2 : 1);
      assert.deepEqual(withoutRunFields(ours.result), want, `${img.label}: the package's hashes equal the CLI's`);
      const one = await inPage('pixelprint', urlOf(img), undefined, 1);
      assert.equal(one.result.timings.threads, 1);
      assert.deepEqual(withoutRunFields(one.result), want, `${img.label}: one worker's hashes equal the CLI's`);
      const py = await anchor.run(img.path);
      assert.deepEqual([py.md5, py.sha256, py.width, py.height], [want.md5, want.sha256, want.width, want.height]);
      const pdqBits = distance(py.pdq.hash, want.pdq.hash);
      if (want.pdq.quality >= 80) assert.ok(pdqBits <= PDQ_DECODER_TOLERANCE_BITS, `${img.label}: PDQ ${pdqBits} bits from Pillow + pdqhash`);
      const checks = `PDQ ${pdqBits} bits (quality ${want.pdq.quality} / ${py.pdq.quality}), aHash ${distance(py.ahash, want.ahash)}, ` +
        `dHash ${distance(py.dhash, want.dhash)}, pHash ${distance(py.phash, want.phash)}; MD5, SHA-256 equal`;
      console.log(`checked ${img.label}: package == CLI; against Python: ${checks}`);
      const t = await alternate(() => inPage('pixelprint', urlOf(img)), () => anchor.run(img.path),
        { one: () => inPage('pixelprint', urlOf(img), undefined, 1) });
      const inWasm = t.of('ours', (r) => r.result.timings.hashMs);
      const oneMs = t.of('one');
      const stages = ['decode', 'pdq', 'imagehash', 'digests'].map((k) => `${k} ${ms(t.of('theirs', (r) => r.stages[k]))}`).join(', ');
      main.push({ img, want, t, checks, inWasm, oneMs, stages });
      console.log(`  all default hashes: package ${ms(t.ours)} ms (in wasm ${ms(inWasm)}), one worker ${ms(oneMs)} ms, ` +
        `Python ${ms(t.theirs)} ms (${stages}) (${ratio(t.theirs, t.ours)}; one worker ${ratio(t.theirs, oneMs)})`);
    }

    // 2. dHash alone against browser-image-hash.
    const dhash = [];
    for (const img of MAIN) {
      const want = expected.get(img);
      const ours = await inPage('pixelprint', urlOf(img), ['dhash']);
      assert.equal(ours.result.dhash, want.dhash, `${img.label}: our dHash equals the CLI's`);
      const theirs = await inPage('browserImageHash', urlOf(img));
      assert.match(theirs.bits, /^[01]{64}$/);
      const again = await inPage('browserImageHash', urlOf(img));
      assert.equal(again.bits, theirs.bits, 'browser-image-hash gives the same bits every run');
      const t = await alternate(() => inPage('pixelprint', urlOf(img), ['dhash']), () => inPage('browserImageHash', urlOf(img)));
      const bits = [...theirs.bits].filter((b, i) => b !== bitsOf(want.dhash)[i]).length;
      dhash.push({ img, t, theirs: theirs.hex, ours: want.dhash, bits });
      console.log(`  dHash ${img.label}: package ${ms(t.ours)} ms, browser-image-hash ${ms(t.theirs)} ms (${ratio(t.theirs, t.ours)}); ${bits} bits apart`);
    }

    // 3. The two JPEG decode paths, bytes -> PDQ.
    const decoding = [];
    for (const img of DECODER) {
      const want = expected.get(img);
      const first = await inPage('decoders', urlOf(img), true);
      assert.deepEqual([first.wasm.pdq, first.wasm.width, first.wasm.height], [want.pdq, want.width, want.height],
        `${img.label}: the wasm path equals the CLI`);
      const py = await anchor.run(img.path);
      const runs = [];
      for (let i = 0; i < reps; i++) runs.push(await inPage('decoders', urlOf(img)));
      for (const r of runs) assert.deepEqual([r.wasm.pdq, r.browser.pdq], [first.wasm.pdq, first.browser.pdq], 'same hashes every run');
      const b = first.browser;
      const rotated = b.width !== want.width;
      const pillowPixels = await anchor.pixels(img.path);
      decoding.push({
        img, want, browser: b, python: py,
        wasmMs: median(runs.map((r) => r.wasm.ms)),
        browserMs: median(runs.map((r) => r.browser.ms)),
        decodeMs: median(runs.map((r) => r.browser.decodeMs)),
        pdqMs: median(runs.map((r) => r.browser.pdqMs)),
        // Hashes of differently oriented pixels are compared as they are: the distance shows it.
        rotated,
        samePixelsAsPillow: b.pixelsSha256 === pillowPixels.sha256,
        uprightPixelsOfPillow: b.pixelsSha256 === pillowPixels.upright,
        browserVsWasm: distance(b.pdq.hash, want.pdq.hash),
        browserVsPillow: distance(b.pdq.hash, py.pdq.hash),
        wasmVsPillow: distance(want.pdq.hash, py.pdq.hash),
      });
      const d = decoding.at(-1);
      console.log(`  decoders ${img.label}: wasm ${ms(d.wasmMs)} ms, browser ${ms(d.browserMs)} ms (decode ${ms(d.decodeMs)} + PDQ ${ms(d.pdqMs)}); ` +
        `PDQ browser-wasm(=CLI) ${d.browserVsWasm} bits, browser-Pillow ${d.browserVsPillow}, wasm-Pillow ${d.wasmVsPillow}; ` +
        `browser pixels equal Pillow's: ${pixelsVerdict(d)}` +
        `${rotated ? `; the browser's pixels are ${b.width}x${b.height} (rotated)` : ''}`);
    }

    const loadEnd = loadavg().map((x) => x.toFixed(2)).join(', ');
    const commit = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: root, encoding: 'utf8' }).trim();
    const dirty = execFileSync('git', ['status', '--porcelain', '--untracked-files=no'], { cwd: root, encoding: 'utf8' }).trim();
    const pyVersions = execFileSync(process.env.PIXELPRINT_BENCH_PYTHON || 'python3', ['-c',
      'import sys, PIL, imagehash, pdqhash, numpy; print(f"Python {sys.version.split()[0]}, Pillow {PIL.__version__}, imagehash {imagehash.__version__}, pdqhash {pdqhash.__version__}, numpy {numpy.__version__}")'],
    { encoding: 'utf8' }).trim();
    const bih = JSON.parse(readFileSync(join(root, 'bench/browser/node_modules/browser-image-hash/package.json'), 'utf8')).version;
    report.push(
      `# Browser benchmark, ${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC`,
      '',
      `- machine: ${cpus().length} CPUs, ${cpus()[0].model} (shared with other builds)`,
      `- commit: ${commit}${dirty ? ' (with uncommitted changes)' : ''}`,
      `- command: \`REPS=${reps} bench/browser/run.sh\``,
      `- load average (1, 5, 15 min) at start: ${loadStart}; at end: ${loadEnd}`,
      `- browser: headless Chromium ${chromium} (/usr/bin/chromium, playwright-core), the package served from www/package/ ` +
        'as plain ES modules; ours runs in the package\'s module worker',
      `- anchor: ${pyVersions}, one process (bench/browser/anchor.py); browser-image-hash ${bih} in the same page`,
      `- figures: median wall-clock ms of ${reps} runs after one untimed warm-up; our runs and the anchor's alternate; ` +
        'ratio = anchor / ours (above 1: ours is faster). Every result is checked before timing (below).',
      '',
      '## File bytes to the default hashes (pdq, ahash, dhash, phash, md5, sha256)',
      '',
      'Ours: `hasher.hash(file)` from the page (postMessage to the workers, read, decode in wasm, hash, answer). ' +
        `The page reports ${cores} cores, so the package's default hasher has two workers and splits the request: PDQ in one, ` +
        'aHash/dHash/pHash and MD5 in the other, each decoding the file for its half (SHA-256 on Web Crypto). ' +
        '"One worker" is `createHasher({workers: 1})`, everything on one core, timed in the same rounds. ' +
        'Python: `Image.open(BytesIO(bytes)).convert("RGB")`, `pdqhash.compute`, `imagehash.average_hash / dhash / phash`, ' +
        '`hashlib.md5 / sha256` in one process (file reading excluded on both sides).',
      '',
      '| file | size | ours (Chromium, default: 2 workers) | of which in wasm (slower half) | ours, one worker | Python pipeline | Python stages (median each) | ratio | ratio, one worker | checked before timing: ours = CLI on every hash; distance ours-Python |',
      '|---|---|---|---|---|---|---|---|---|---|',
      ...main.map(({ img, want, t, checks, inWasm, oneMs, stages }) => `| ${img.label} | ${want.width}x${want.height} ` +
        `(${mp(want.width, want.height)}), ${(img.bytes / 1e6).toFixed(1)} MB | ${ms(t.ours)} | ${ms(inWasm)} | ${ms(oneMs)} | ${ms(t.theirs)} | ${stages} | ` +
        `${ratio(t.theirs, t.ours)} | ${ratio(t.theirs, oneMs)} | ${checks} |`),
      '',
      goal(5, main.map(({ t }) => t.theirs / t.ours)),
      '',
      `One worker (for comparison; not the package's default here): ${main.map(({ t, oneMs }) => ratio(t.theirs, oneMs)).join(', ')}.`,
      '',
      '## dHash alone: the package against browser-image-hash',
      '',
      `Ours: \`hasher.hash(file, {algorithms: ['dhash']})\`. browser-image-hash ${bih}: ` +
        '`new DifferenceHashBuilder().build(new URL(URL.createObjectURL(file)))` (an `<img>` decode, a full-size canvas, ' +
        'a Lanczos resize in JS), on the page\'s main thread. Its dHash is another definition (grey after resizing, ' +
        '`left <= right`, its own Lanczos), so the bits differ from imagehash\'s; ours equals the CLI\'s (checked).',
      '',
      '| file | ours | browser-image-hash | ratio | ours (= CLI) | browser-image-hash | bits apart |',
      '|---|---|---|---|---|---|---|',
      ...dhash.map(({ img, t, ours, theirs, bits }) => `| ${img.label} | ${ms(t.ours)} | ${ms(t.theirs)} | ${ratio(t.theirs, t.ours)} | ` +
        `\`${ours}\` | \`${theirs}\` | ${bits} |`),
      '',
      goal(3, dhash.map(({ t }) => t.theirs / t.ours)),
      '',
      '## JPEG decoders: the wasm module\'s (our own, libjpeg-turbo\'s arithmetic) against the browser\'s',
      '',
      'In a module worker, bytes to PDQ both ways: `hashBytes(bytes, {algorithms: [\'pdq\']})` (the package\'s default ' +
        'path) and `browserPixels` of www/package/lib/core.js (`createImageBitmap` with `colorSpaceConversion: \'none\'`, ' +
        '`premultiplyAlpha: \'none\'`, `imageOrientation: \'none\'`, OffscreenCanvas `getImageData`: the package\'s ' +
        'fallback) + `hashRgba(pixels, w, h, [\'pdq\'])`. "PDQ alone" is `hashRgba` on the browser\'s pixels, so the ' +
        'wasm decode costs about "wasm path" minus it. Ratio = browser path / wasm path (above 1: wasm is faster). ' +
        'Pillow: `pdqhash.compute` on Pillow\'s pixels (libjpeg-turbo), the Python tools\' hash; the last column compares ' +
        'the SHA-256 of the RGB pixels.',
      '',
      '| file | pixels | wasm path | browser path | ratio | browser decode | PDQ alone | PDQ distance browser-CLI | wasm-CLI | browser-Pillow | wasm-Pillow | browser pixels = Pillow\'s |',
      '|---|---|---|---|---|---|---|---|---|---|---|---|',
      ...decoding.map((d) => `| ${d.img.label} | ${d.want.width}x${d.want.height}${d.rotated ? ` (browser: ${d.browser.width}x${d.browser.height})` : ''} | ` +
        `${ms(d.wasmMs)} | ${ms(d.browserMs)} | ${ratio(d.browserMs, d.wasmMs)} | ${ms(d.decodeMs)} | ${ms(d.pdqMs)} | ` +
        `${d.browserVsWasm} | 0 | ${d.browserVsPillow} | ${d.wasmVsPillow} | ${pixelsVerdict(d)} |`),
      '',
    );
  } finally {
    await browser.close();
    anchor.close();
    await server.close();
  }
  writeFileSync(out, `${report.join('\n')}\n`);
  console.log(report.join('\n'));
}

await main();
