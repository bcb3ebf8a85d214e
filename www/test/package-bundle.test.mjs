// The packed npm package as an application gets it: `npm pack`, installed into a fresh project,
// then (a) its declarations type-check a program with `tsc --noEmit --strict` (and reject a
// wrong one), (b) a tiny app importing `pixelprint` is built with Vite and served by
// `vite preview`; in headless Chromium the bundled worker and .wasm load and hash a photo
// bit for bit as the CLI does, and a video (the bundled MP4 demuxer) as `hash-video` does.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execFileSync, spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { repo, cliPath, vectorPath, launchBrowser } from './helpers.mjs';
import { cliHash, camel, ALL } from './images.mjs';

const www = fileURLToPath(new URL('..', import.meta.url));
const tsc = join(www, 'node_modules', '.bin', 'tsc');
const packageDir = join(www, 'package');
const app = mkdtempSync(join(tmpdir(), 'pixelprint-app-'));
const PHOTO = 'reg-test-input/exif-rotn/exif-rotn-6.jpg';
const VIDEO = fileURLToPath(new URL('tests/vectors/vpdq/sample-videos/test-padded-dimensions.mp4', repo));

before(() => {
  const tarball = execFileSync('npm', ['pack', '--silent', '--pack-destination', app], { cwd: packageDir, encoding: 'utf8' }).trim();
  writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'pixelprint-app', private: true, type: 'module' }));
  // The package has no dependencies: nothing is fetched.
  execFileSync('npm', ['install', '--offline', '--no-audit', '--no-fund', '--no-package-lock', `./${tarball}`],
    { cwd: app, stdio: 'pipe' });
});
after(() => rmSync(app, { recursive: true, force: true }));

/** Runs tsc on one file of the app with the package's declarations; returns {status, output}. */
function typeCheck(file, source) {
  writeFileSync(join(app, file), source);
  const config = `tsconfig.${file}.json`;
  writeFileSync(join(app, config), JSON.stringify({
    compilerOptions: { target: 'es2022', module: 'esnext', moduleResolution: 'bundler', lib: ['es2022', 'dom'], types: [] },
    files: [file],
  }));
  // --pretty false: the misuse test parses the plain `file(line,col): error` lines, and tsc
  // switches to its pretty format when the terminal it inherits is a TTY.
  const run = spawnSync(tsc, ['-p', config, '--noEmit', '--strict', '--pretty', 'false'], { cwd: app, encoding: 'utf8' });
  return { status: run.status, output: `${run.stdout}${run.stderr}` };
}

test('the packed declarations type-check a strict program using createHasher, hash, hashMany and the results', () => {
  const { status, output } = typeCheck('uses.ts', `
import { createHasher, vpdqText, PixelprintError, type HashResult, type HashOptions, type Hasher, type VideoOptions, type VideoResult } from 'pixelprint';

export async function hashAll(files: File[], signal: AbortSignal): Promise<string[]> {
  const hasher: Hasher = await createHasher({ worker: true, wasmUrl: new URL('/pixelprint_bg.wasm', location.href) });
  const options: HashOptions = {
    algorithms: ['pdq', 'pdqDihedral', 'phash', 'md5'], orientation: 'apply', alpha: 'white', maxPixels: 50_000_000,
    signal, onProgress: ({ stage, bytesRead, totalBytes }) => console.log(stage, bytesRead / totalBytes),
  };
  const first: HashResult = await hasher.hash(files[0], options);
  const lines = [\`\${first.width}x\${first.height} \${first.format} \${first.decodedBy} \${first.timings.totalMs.toFixed(0)} ms\`];
  if (first.pdq) lines.push(\`\${first.pdq.hash} \${first.pdq.quality.toFixed(0)}\`);
  lines.push(...(first.pdqDihedral ?? []), first.phash ?? '', first.md5 ?? '');
  await hasher.hash(new Uint8Array(await files[0].arrayBuffer()), { algorithms: 'pdq,sha256' });
  for await (const item of hasher.hashMany(files, { orientation: 'ignore' })) {
    if (item.error) lines.push(\`\${item.file.name}: \${item.error instanceof PixelprintError ? item.error.code : item.error.message}\`);
    else lines.push(\`\${item.file.name}: \${item.result.dhash ?? ''} \${item.result.sha256 ?? ''}\`);
  }
  const videoOptions: VideoOptions = {
    secondsPerHash: 0.5, signal, onProgress: ({ stage, framesDone, framesExpected }) => console.log(stage, framesDone / framesExpected),
  };
  const video: VideoResult = await hasher.hashVideo(files[0], videoOptions);
  lines.push(vpdqText(video), \`\${video.frames} \${video.frameRate} \${video.vpdq[0]?.hash ?? ''} \${video.conversion} \${video.md5 ?? ''}\`);
  hasher.terminate();
  return lines;
}
`);
  assert.equal(status, 0, `tsc failed:\n${output}`);
});

test('the packed declarations reject misuse under --strict', () => {
  // Each line must fail with this code: the check above proves something only if these fail.
  const misuse = [
    ["await h.hash(new Blob(), { algorithms: ['pdq', 'md4'] });", 'TS2322'],
    ["await h.hash(new Blob(), { orientation: 'rotate' });", 'TS2322'],
    ["await h.hash('a file name');", 'TS2345'],
    ['const r = await h.hash(new Blob()); r.pdq.hash;', 'TS18048'],
    ['(await h.hash(new Blob())).pdqHash;', 'TS2551'],
    ['for await (const item of h.hashMany([new Blob()])) item.result.md5;', 'TS18048'],
    ["await h.hashVideo(new Blob(), { secondsPerHash: '1' });", 'TS2322'],
  ];
  const { status, output } = typeCheck('misuse.ts', [
    "import { createHasher } from 'pixelprint';",
    'export async function misuse() {',
    '  const h = await createHasher();',
    ...misuse.map(([line]) => `  ${line}`),
    '}',
    '',
  ].join('\n'));
  assert.notEqual(status, 0, 'tsc accepted a misuse');
  for (const [i, [line, code]] of misuse.entries()) {
    assert.match(output, new RegExp(`misuse\\.ts\\(${i + 4},\\d+\\): error ${code}`), `line "${line}" should fail with ${code}:\n${output}`);
  }
});

test('a Vite-built app loads the bundled worker and .wasm and hashes a photo and a video as the CLI does', async () => {
  const { build, preview } = await import('vite');
  writeFileSync(join(app, 'index.html'), '<!doctype html>\n<html lang="en"><head><meta charset="utf-8"><title>app</title></head>\n' +
    '<body><p id="state">loading</p><script type="module" src="./main.js"></script></body></html>\n');
  writeFileSync(join(app, 'main.js'), `import { createHasher } from 'pixelprint';

window.hasherReady = createHasher().then((hasher) => {
  window.hasher = hasher;
  document.getElementById('state').textContent = 'ready';
});
`);
  mkdirSync(join(app, 'public'), { recursive: true });
  copyFileSync(vectorPath(PHOTO), join(app, 'public', 'photo.jpg'));
  copyFileSync(VIDEO, join(app, 'public', 'video.mp4'));
  await build({ root: app, configFile: false, logLevel: 'warn' });
  const assets = readdirSync(join(app, 'dist', 'assets'));
  assert.ok(assets.some((f) => /^pixelprint_bg-.*\.wasm$/.test(f)), `no .wasm among ${assets}`);
  assert.ok(assets.some((f) => /^worker-.*\.js$/.test(f)), `no worker chunk among ${assets}`);

  const server = await preview({ root: app, configFile: false, logLevel: 'warn', preview: { host: '127.0.0.1', port: 0, strictPort: true } });
  const browser = await launchBrowser();
  try {
    const base = server.resolvedUrls.local[0];
    assert.match(base, /^http:\/\/127\.0\.0\.1:\d+\/$/);
    const page = await browser.context.newPage();
    const responses = [];
    page.on('response', (r) => responses.push({ path: new URL(r.url()).pathname, status: r.status() }));
    page.on('pageerror', (e) => console.error('page error:', e));
    await page.goto(base);
    await page.getByText('ready').waitFor();
    const got = await page.evaluate(async (algorithms) => {
      const file = new File([await (await fetch('/photo.jpg')).blob()], 'photo.jpg');
      const result = await window.hasher.hash(file, { algorithms });
      return { mode: window.hasher.mode, result };
    }, ALL.split(','));
    assert.equal(got.mode, 'worker');
    assert.equal(got.result.decodedBy, 'wasm');
    const [want] = cliHash(ALL, 'ignore', [fileURLToPath(vectorPath(PHOTO))]);
    const { timings, orientation, decodedBy, ...hashes } = got.result;
    assert.deepEqual(hashes, camel(want));
    assert.equal(orientation, 6);
    const video = await page.evaluate(async () => {
      const file = new File([await (await fetch('/video.mp4')).blob()], 'video.mp4');
      return window.hasher.hashVideo(file, { secondsPerHash: 1 });
    });
    const cli = execFileSync(cliPath(), ['hash-video', '--format', 'jsonl', VIDEO], { encoding: 'utf8' });
    const { vpdq, md5, sha256, frames } = JSON.parse(cli);
    assert.deepEqual({ vpdq: video.vpdq, md5: video.md5, sha256: video.sha256, frames: video.frames }, { vpdq, md5, sha256, frames });
    const loaded = (re) => responses.filter((r) => re.test(r.path));
    // One worker script, loaded by each worker (two on a device with two cores: the request
    // for 11 algorithms is split between them).
    const workers = loaded(/^\/assets\/worker-.*\.js$/);
    assert.ok(workers.length >= 1 && workers.length <= 2 && workers.every((r) => r.status === 200), JSON.stringify(responses));
    assert.equal(new Set(workers.map((r) => r.path)).size, 1, JSON.stringify(responses));
    assert.deepEqual(loaded(/^\/assets\/pixelprint_bg-.*\.wasm$/).map((r) => r.status), [200], JSON.stringify(responses));
    assert.deepEqual(responses.filter((r) => r.status >= 400), []);
    console.log(`package [Vite build, Chromium worker]: ${PHOTO} ${got.result.width}x${got.result.height}, 11 algorithms equal the CLI; ` +
      `loaded ${responses.map((r) => r.path).join(', ')}; hash ${timings.hashMs.toFixed(0)} ms; a video's ${vpdq.length} vPDQ frames equal hash-video's`);
  } finally {
    await browser.close();
    await new Promise((resolve) => server.httpServer.close(resolve));
  }
});
