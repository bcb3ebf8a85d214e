// Video (vPDQ) in the npm package, in headless Chromium: WebCodecs decoding in the worker, the
// pages' CSP, against `pixelprint hash-video` (FFmpeg decoding) on the same files. Frame numbers,
// frame counts, frame rate and digests must be equal; hashes within the reference tolerance
// (31 bits where both qualities are >= 50), and equal bit for bit where the frames were converted
// as the CLI converts them. Bad files give coded errors; abort works and the hasher goes on.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { repo, cliPath, startHarness } from './helpers.mjs';

const videoPath = (name) => fileURLToPath(new URL(`tests/vectors/vpdq/sample-videos/${name}`, repo));
const SAMPLES = ['chair-20-sd-bar.mp4', 'doorknob-hd-no-bar.mp4', 'pattern-sd-grey-bar.mp4'];
const SMALLEST = 'test-padded-dimensions.mp4';

let harness;
let server;
let browser;
let page;
const consoleMessages = [];
const tmp = mkdtempSync(join(tmpdir(), 'pixelprint-video-'));
before(async () => {
  harness = await startHarness({
    adminKey: 'ppk_video-test-admin-key-of-32-characters',
    onPage: (p) => {
      p.on('console', (m) => consoleMessages.push(m.text()));
      p.on('worker', (w) => w.on('console', (m) => consoleMessages.push(m.text())));
    },
  });
  ({ server, browser, page } = harness);
});
after(async () => {
  await harness?.close();
  rmSync(tmp, { recursive: true, force: true });
});

/** Hashes a video in the page's worker; resolves to the result or {error: {name, code, message}}. */
function hashVideoInPage(bytes, options, name = 'video.mp4') {
  return page.evaluate(async ({ b64, options, name }) => {
    const file = new File([window.bytesOf(b64)], name, { type: 'video/mp4' });
    const progress = [];
    try {
      const result = await window.hasher.hashVideo(file, { ...options, onProgress: (p) => progress.push(p) });
      return { ...result, progress, text: window.pixelprint.vpdqText(result) };
    } catch (e) {
      return { error: { name: e.name, code: e.code, message: e.message } };
    }
  }, { b64: Buffer.from(bytes).toString('base64'), options, name });
}

let cli = null;
const cliResults = new Map();
/** `pixelprint hash-video --format jsonl` of one file (the debug build: kept for the next test). */
function cliVideo(path, secondsPerHash) {
  cli ??= cliPath();
  const key = `${secondsPerHash} ${path}`;
  if (!cliResults.has(key)) {
    cliResults.set(key, execFileSync(cli, ['hash-video', '--format', 'jsonl', '-s', String(secondsPerHash), path], { encoding: 'utf8' }));
  }
  return JSON.parse(cliResults.get(key));
}

function cliVpdqText(path, secondsPerHash) {
  cli ??= cliPath();
  return execFileSync(cli, ['hash-video', '--format', 'vpdq', '-s', String(secondsPerHash), path], { encoding: 'utf8' });
}

function distance(a, b) {
  let d = 0;
  for (let i = 0; i < 64; i += 8) {
    let x = parseInt(a.slice(i, i + 8), 16) ^ parseInt(b.slice(i, i + 8), 16);
    while (x) {
      d += x & 1;
      x >>>= 1;
    }
  }
  return d;
}

/**
 * Checks a browser result against the CLI's for the same file: frame numbers, counts, rate and
 * digests equal; distances within 31 bits where both qualities are >= 50. Returns the distribution.
 */
function compareWithCli(got, want, what) {
  assert.equal(got.error, undefined, `${what}: ${JSON.stringify(got.error)}`);
  assert.equal(got.frames, want.frames, `${what}: decoded frames`);
  assert.equal(got.frameRate, want.frame_rate, `${what}: frame rate`);
  assert.deepEqual([got.width, got.height], [want.width, want.height], `${what}: size`);
  assert.equal(got.md5, want.md5, `${what}: md5`);
  assert.equal(got.sha256, want.sha256, `${what}: sha256`);
  assert.deepEqual(got.vpdq.map((f) => [f.frame, f.timestamp]), want.vpdq.map((f) => [f.frame, f.timestamp]), `${what}: frame numbers and timestamps`);
  const distances = [];
  let qualityEqual = 0;
  for (const [i, f] of got.vpdq.entries()) {
    const w = want.vpdq[i];
    if (f.quality === w.quality) qualityEqual++;
    if (f.quality >= 50 && w.quality >= 50) distances.push(distance(f.hash, w.hash));
  }
  const max = Math.max(0, ...distances);
  assert.ok(max <= 31, `${what}: a frame ${max} bits from the CLI's (distances ${distances.join(' ')})`);
  const share = (p) => (distances.length ? (100 * distances.filter(p).length) / distances.length : 100);
  return {
    hashed: got.vpdq.length, compared: distances.length, max,
    mean: distances.reduce((a, b) => a + b, 0) / Math.max(1, distances.length),
    within10: share((d) => d <= 10), equal: share((d) => d === 0), qualityEqual,
  };
}

const framesPerSecond = (r) => r.frames / (r.timings.decodeMs / 1000);

function describe(name, secondsPerHash, conversion, stats, got) {
  return `video [Chromium worker, ${conversion}]: ${name} -s ${secondsPerHash}: ${stats.hashed} frames hashed of ${got.frames} ` +
    `(${got.width}x${got.height}, ${got.codec}, conversion ${got.conversion}); ${stats.compared} with both q >= 50: ` +
    `max ${stats.max}, mean ${stats.mean.toFixed(2)}, <= 10 bits ${stats.within10.toFixed(1)} %, equal ${stats.equal.toFixed(1)} %, ` +
    `quality equal ${stats.qualityEqual}/${stats.hashed}; ${framesPerSecond(got).toFixed(0)} frames/s decoded ` +
    `(index ${got.timings.indexMs.toFixed(0)} ms, digests ${got.timings.digestMs.toFixed(0)} ms, frames ${got.timings.decodeMs.toFixed(0)} ms)`;
}

test('three sample videos (one frame a second; every frame) and the smallest (every frame) equal the CLI bit for bit', async () => {
  assert.equal(await page.evaluate(() => window.hasher.mode), 'worker');
  const runs = [...SAMPLES.map((n) => [n, 1]), ...SAMPLES.map((n) => [n, 0]), [SMALLEST, 0]];
  for (const [name, secondsPerHash] of runs) {
    const want = cliVideo(videoPath(name), secondsPerHash);
    const got = await hashVideoInPage(readFileSync(videoPath(name)), { secondsPerHash }, name);
    const stats = compareWithCli(got, want, name);
    console.log(describe(name, secondsPerHash, 'auto', stats, got));
    // H.264 decodes to the same YUV everywhere, and the wasm module converts it as libswscale.
    assert.equal(got.conversion, 'exact', name);
    assert.deepEqual(got.vpdq, want.vpdq, `${name}: every hash and quality`);
    // Progress: frames counted up to the total, the digest stage first.
    const last = got.progress.at(-1);
    assert.equal(got.progress[0].stage, 'digest');
    assert.deepEqual([last.stage, last.framesDone, last.framesExpected], ['done', want.frames, want.frames]);
  }
  const text = await hashVideoInPage(readFileSync(videoPath(SMALLEST)), { secondsPerHash: 0 }, SMALLEST);
  assert.equal(text.text, cliVpdqText(videoPath(SMALLEST), 0), 'vpdqText equals hash-video --format vpdq');
});

test('with the browser\'s own RGB conversion, hashes stay within the tolerance (the distribution is printed)', async () => {
  for (const [name, secondsPerHash] of [...SAMPLES.map((n) => [n, 1]), [SMALLEST, 0]]) {
    const want = cliVideo(videoPath(name), secondsPerHash);
    const got = await hashVideoInPage(readFileSync(videoPath(name)), { secondsPerHash, conversion: 'browser', digests: false }, name);
    assert.equal(got.conversion, 'browser');
    const stats = compareWithCli({ ...got, md5: want.md5, sha256: want.sha256 }, want, `${name} (browser conversion)`);
    console.log(describe(name, secondsPerHash, 'browser', stats, got));
  }
});

function ffmpeg(args) {
  execFileSync('ffmpeg', ['-v', 'error', '-y', ...args], { stdio: ['ignore', 'ignore', 'inherit'] });
}

test('made videos: variable frame rate, odd size, 4:4:4, 10-bit, a stream-copied cut, MOV: frame numbers equal the CLI, hashes within the tolerance', async () => {
  const made = {
    // Frames 1/30 s apart, then 1/10 s apart: the frame rate is the average, as FFmpeg's.
    'vfr.mp4': ['-f', 'lavfi', '-i', 'testsrc2=size=320x240:rate=30:duration=4', '-vf', "setpts='if(lt(N,60),N/30,2+(N-60)/10)/TB'",
      '-fps_mode', 'vfr', '-c:v', 'libx264', '-pix_fmt', 'yuv420p'],
    // H.264 4:2:0 cannot have odd sizes; 4:4:4 can.
    'odd-size-444.mp4': ['-f', 'lavfi', '-i', 'testsrc=size=321x241:rate=25:duration=3', '-c:v', 'libx264', '-pix_fmt', 'yuv444p'],
    'yuv444.mp4': ['-f', 'lavfi', '-i', 'testsrc2=size=320x240:rate=25:duration=3', '-c:v', 'libx264', '-pix_fmt', 'yuv444p'],
    'ten-bit.mp4': ['-f', 'lavfi', '-i', 'testsrc2=size=320x240:rate=25:duration=3', '-c:v', 'libx264', '-pix_fmt', 'yuv420p10le'],
    'bt709-full.mov': ['-f', 'lavfi', '-i', 'testsrc2=size=320x240:rate=24:duration=3', '-c:v', 'libx264', '-pix_fmt', 'yuvj420p',
      '-colorspace', 'bt709', '-color_primaries', 'bt709', '-color_trc', 'bt709'],
  };
  for (const [name, args] of Object.entries(made)) ffmpeg([...args, join(tmp, name)]);
  ffmpeg(['-ss', '1.5', '-i', videoPath('doorknob-hd-no-bar.mp4'), '-c', 'copy', join(tmp, 'cut.mp4')]);
  for (const name of [...Object.keys(made), 'cut.mp4']) {
    const path = join(tmp, name);
    const want = cliVideo(path, 0);
    const got = await hashVideoInPage(readFileSync(path), { secondsPerHash: 0 }, name);
    if (got.error?.code === 'unsupported_codec') {
      console.log(`video [Chromium worker]: ${name}: ${got.error.message} (the CLI hashes it)`);
      continue;
    }
    const stats = compareWithCli(got, want, name);
    console.log(describe(name, 0, 'auto', stats, got));
    if (got.conversion === 'exact') assert.deepEqual(got.vpdq, want.vpdq, `${name}: exact conversion, equal hashes`);
  }
});

test('bad files give coded errors, never a hang; the next file is hashed', async () => {
  const sample = readFileSync(videoPath(SMALLEST));
  const big = readFileSync(videoPath('chair-20-sd-bar.mp4'));
  const audioOnly = join(tmp, 'audio.mp4');
  ffmpeg(['-f', 'lavfi', '-i', 'sine=frequency=440:duration=1', '-c:a', 'aac', audioOnly]);
  // A frame size of 30000x30000 written into the sample entry (avc1 width and height).
  const huge = Buffer.from(big);
  const avc1 = huge.indexOf('avc1', huge.indexOf('stsd'));
  huge.writeUInt16BE(30000, avc1 + 4 + 24);
  huge.writeUInt16BE(30000, avc1 + 4 + 26);
  // Frames overwritten with noise, the index intact.
  const noisy = Buffer.from(big);
  for (let i = 200_000; i < noisy.length - 100_000; i += 7) noisy[i] = (i * 2654435761) >>> 24;
  const cases = [
    ['empty.mp4', Buffer.alloc(0), ['empty_input']],
    ['notes.mp4', Buffer.from('these are my notes, not a video\n'), ['unsupported_format']],
    ['cut-in-frames.mp4', sample.subarray(0, sample.length >> 1), ['truncated_video']],
    ['cut-in-index.mp4', big.subarray(0, 3000), ['truncated_video']],
    ['audio.mp4', readFileSync(audioOnly), ['no_video_stream']],
    ['huge.mp4', huge, ['too_many_pixels']],
    ['noisy.mp4', noisy, ['corrupt_video', null]],
  ];
  const want = cliVideo(videoPath(SMALLEST), 1);
  for (const [name, bytes, codes] of cases) {
    const started = Date.now();
    const got = await hashVideoInPage(bytes, {}, name);
    const code = got.error?.code ?? null;
    assert.ok(codes.includes(code), `${name}: ${JSON.stringify(got.error ?? { frames: got.frames })}`);
    if (code) {
      assert.equal(got.error.name, 'PixelprintError');
      assert.ok(got.error.message.length > 10, got.error.message);
    }
    const outcome = code ? `${code}: ${got.error.message}` : `hashed: ${got.frames} frames, ${got.vpdq.length} hashes (the decoder concealed the damage)`;
    console.log(`video [Chromium worker]: ${name} -> ${outcome} (${Date.now() - started} ms)`);
    const next = await hashVideoInPage(sample, {}, SMALLEST);
    assert.deepEqual(next.vpdq, want.vpdq, `after ${name}`);
  }
  const bad = await page.evaluate(() => window.hasher.hashVideo(new Blob([new Uint8Array(8)]), { secondsPerHash: -1 }).catch((e) => e.code));
  assert.equal(bad, 'invalid_option');
});

test('abort during decoding rejects with an AbortError; the hasher goes on; no frame is left open', async () => {
  const bytes = readFileSync(videoPath('chair-20-sd-bar.mp4'));
  const outcome = await page.evaluate(async (b64) => {
    const file = new File([window.bytesOf(b64)], 'chair.mp4');
    const controller = new AbortController();
    let framesAtAbort = 0;
    const t0 = performance.now();
    const first = window.hasher.hashVideo(file, {
      signal: controller.signal,
      onProgress: (p) => {
        if (p.stage === 'frames' && p.framesDone >= 60 && !controller.signal.aborted) {
          framesAtAbort = p.framesDone;
          controller.abort();
        }
      },
    });
    let name = 'resolved';
    try {
      await first;
    } catch (e) {
      name = e.name;
    }
    const abortMs = performance.now() - t0;
    const next = await window.hasher.hashVideo(file, { digests: false });
    return { name, framesAtAbort, abortMs, next: next.vpdq };
  }, bytes.toString('base64'));
  assert.equal(outcome.name, 'AbortError');
  assert.ok(outcome.framesAtAbort >= 60);
  assert.deepEqual(outcome.next, cliVideo(videoPath('chair-20-sd-bar.mp4'), 1).vpdq);
  // Chromium warns when a VideoFrame is garbage collected without close().
  const leaks = consoleMessages.filter((m) => /VideoFrame.*(garbage collected|not closed|close\(\))/i.test(m));
  assert.deepEqual(leaks, []);
  console.log(`video [Chromium worker]: aborted after ${outcome.framesAtAbort} frames, rejected in ${outcome.abortMs.toFixed(0)} ms; the next video equals the CLI`);
});

test('inline in the page (no worker) the same video gives the same hashes', async () => {
  const bytes = readFileSync(videoPath(SMALLEST));
  const got = await page.evaluate(async (b64) => {
    const inline = await window.pixelprint.createHasher({ worker: false });
    const r = await inline.hashVideo(new Blob([window.bytesOf(b64)]), { secondsPerHash: 1 });
    return { mode: inline.mode, vpdq: r.vpdq };
  }, bytes.toString('base64'));
  assert.equal(got.mode, 'inline');
  assert.deepEqual(got.vpdq, cliVideo(videoPath(SMALLEST), 1).vpdq);
});

test('the packed package (npm pack) hashes a video in the browser: the demuxer and the video modules are in it', async () => {
  const www = fileURLToPath(new URL('www/', repo));
  // Unpacked under www/test/ so that the server serves it (at /test/), under the pages' CSP.
  const dir = mkdtempSync(join(www, 'test', 'packed-'));
  try {
    const tarball = execFileSync('npm', ['pack', '--silent', '--pack-destination', dir], { cwd: join(www, 'package'), encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim().split('\n').at(-1);
    execFileSync('tar', ['-xzf', join(dir, tarball), '-C', dir]);
    const base = `${server.url}test/${dir.split('/').at(-1)}/package/`;
    const bytes = readFileSync(videoPath(SMALLEST));
    const got = await page.evaluate(async ({ base, b64 }) => {
      const packed = await import(`${base}index.js`);
      const hasher = await packed.createHasher();
      const r = await hasher.hashVideo(new Blob([window.bytesOf(b64)]), { secondsPerHash: 1 });
      hasher.terminate();
      return r.vpdq;
    }, { base, b64: bytes.toString('base64') });
    assert.deepEqual(got, cliVideo(videoPath(SMALLEST), 1).vpdq);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('report page: a video is sent with its vPDQ frames, and the server stores them as the CLI prints them', async () => {
  const reportPage = await browser.context.newPage();
  const errors = [];
  reportPage.on('pageerror', (e) => errors.push(e));
  await reportPage.goto(`${server.url}report.html`);
  await reportPage.getByText('Ready. Choose the files to report.').waitFor();
  const name = 'chair-20-sd-bar.mp4';
  await reportPage.getByLabel('Images or videos').setInputFiles([{ name, mimeType: 'video/mp4', buffer: readFileSync(videoPath(name)) }]);
  await reportPage.getByText(/frames fingerprinted \(vPDQ/).waitFor({ timeout: 120_000 });
  await reportPage.getByLabel('What kind of content is it?').selectOption('other');
  const preview = await reportPage.locator('#preview').textContent();
  await reportPage.getByRole('button', { name: 'Send the report' }).click();
  await reportPage.getByText('Report received. Keep the report id and the secret code.').waitFor();
  const id = await reportPage.locator('#receipt-id').textContent();
  const want = cliVideo(videoPath(name), 1);
  const item = { md5: want.md5, sha256: want.sha256, vpdq: want.vpdq };
  assert.deepEqual(JSON.parse(preview).items, [item]);
  const { body: { tips } } = await server.api('GET', '/v1/tips');
  assert.deepEqual(tips.find((t) => t.tip_id === id)?.items, [item], 'the stored tip');
  assert.deepEqual(errors, []);
  console.log(`report page [Chromium, pixelprint-server]: ${name} sent as md5, sha256 and ${want.vpdq.length} vPDQ frames equal to the CLI's, stored as sent`);
  await reportPage.close();
});
