// Test helpers: the conformance vectors of tests/vectors, the wasm module, the workspace's
// binaries (the CLI, the matching server), a browser, and a main-thread long-task probe.
import assert from 'node:assert/strict';
import { readFileSync, mkdtempSync, rmSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawn, execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export const repo = new URL('../../', import.meta.url);
export const vectorPath = (p) => new URL(`tests/vectors/pdq/${p}`, repo);

/** Rows `hash,quality,WxH,file,[dih=]h1:..:h8,[dihq=]q` of an expected-value file. */
export function expectedRows(path) {
  return readFileSync(vectorPath(path), 'utf8').split('\n')
    .filter((l) => l.trim() && !l.startsWith('#'))
    .map((l) => {
      const f = l.split(',');
      return {
        hash: f[0], quality: Number(f[1]), size: f[2], file: f[3],
        dihedral: f[4].replace(/^dih=/, '').split(':'), dihedralQuality: Number(f[5].replace(/^dihq=/, '')),
      };
    });
}

/** Binary PPM (P6) / PGM (P5), optionally gzip'd, as tightly packed RGBA. */
export function readPnmAsRgba(path) {
  let bytes = readFileSync(vectorPath(path));
  if (path.endsWith('.gz')) bytes = gunzipSync(bytes);
  const fields = [];
  let pos = 0;
  while (fields.length < 4) {
    while (/\s/.test(String.fromCharCode(bytes[pos]))) pos++;
    const start = pos;
    while (!/\s/.test(String.fromCharCode(bytes[pos]))) pos++;
    fields.push(bytes.subarray(start, pos).toString('latin1'));
  }
  pos++;
  const [magic, w, h] = [fields[0], Number(fields[1]), Number(fields[2])];
  const channels = magic === 'P6' ? 3 : 1;
  const rgba = new Uint8Array(w * h * 4);
  for (let i = 0; i < w * h; i++) {
    const src = pos + i * channels;
    rgba[i * 4] = bytes[src];
    rgba[i * 4 + 1] = bytes[src + (channels === 3 ? 1 : 0)];
    rgba[i * 4 + 2] = bytes[src + (channels === 3 ? 2 : 0)];
    rgba[i * 4 + 3] = 255;
  }
  return { width: w, height: h, data: rgba, grey: channels === 1 };
}

/**
 * A binary of the workspace, built (a no-op when `make test` has built it) in the build's target
 * dir: `$CARGO_TARGET_DIR`, which scripts/test.sh sets to the shared native cache, or `target/`.
 */
function workspaceBinary(pkg, bin) {
  const root = fileURLToPath(repo);
  execFileSync('cargo', ['build', '--quiet', '-p', pkg], { cwd: root, stdio: 'inherit' });
  return join(process.env.CARGO_TARGET_DIR ?? join(root, 'target'), 'debug', bin);
}

/** The `pixelprint` CLI. */
export const cliPath = () => workspaceBinary('pixelprint-cli', 'pixelprint');

/** The wasm module built by scripts/build-wasm.sh, initialised synchronously. */
export async function loadWasm() {
  const mod = await import(new URL('www/package/pkg/pixelprint.js', repo));
  mod.initSync({ module: readFileSync(new URL('www/package/pkg/pixelprint_bg.wasm', repo)) });
  return mod;
}

/** Headless Debian Chromium through playwright-core, with a fresh profile. */
export async function launchBrowser() {
  const { chromium } = await import('playwright-core');
  const profile = mkdtempSync(join(tmpdir(), 'pixelprint-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: process.env.CHROME ?? '/usr/bin/chromium',
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking',
      '--disable-component-update', '--disable-sync', '--disable-dev-shm-usage'],
  });
  return {
    context,
    async close() {
      await context.close();
      rmSync(profile, { recursive: true, force: true });
    },
  };
}

/**
 * The Content-Security-Policy the server sends with every answer (docs/api.md): www/site/csp.txt,
 * which the server embeds.
 */
export const PAGES_CSP = readFileSync(new URL('www/site/csp.txt', repo), 'utf8').trim();

/**
 * Starts the matching server (`pixelprint-server`) on a free port with a fresh data dir, serving
 * the pages (www/site) at `/`, the package (www/package) at `/package/` as `make demo` does, and
 * the test harness (www/test) at `/test/`, and waits until its index is loaded. `adminKey`: an
 * admin API key to create; `args`: more of the server's flags.
 * Resolves to {url, api, apiCalls, stop}: `api(method, path, body?, key?)` resolves to
 * {status, body} (JSON when the answer is JSON), `apiCalls` counts its calls; `stop()` ends the
 * process and removes the data dir. The process is also ended if this test process exits first.
 */
export async function startServer({ adminKey, args: extra = [] } = {}) {
  const binary = workspaceBinary('pixelprint-server', 'pixelprint-server');
  const dataDir = mkdtempSync(join(tmpdir(), 'pixelprint-server-'));
  const www = (dir) => fileURLToPath(new URL(`www/${dir}`, repo));
  const args = ['--bind', '127.0.0.1:0', '--data-dir', dataDir, '--www', www('site'),
    '--mount', `/package=${www('package')}`, '--mount', `/test=${www('test')}`];
  if (adminKey) args.push('--admin-key', adminKey);
  args.push(...extra);
  const child = spawn(binary, args, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, RUST_LOG: 'warn' } });
  const killOnExit = () => child.kill();
  process.on('exit', killOnExit);
  // 'error' alone when the binary cannot be started; 'exit' otherwise.
  const exited = new Promise((resolve) => {
    child.on('exit', (code, signal) => resolve(code ?? signal));
    child.on('error', resolve);
  });
  let log = '';
  child.stderr.on('data', (chunk) => {
    log += chunk;
  });
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill();
    await exited;
    process.off('exit', killOnExit);
    rmSync(dataDir, { recursive: true, force: true });
  };
  try {
    const url = await new Promise((resolve, reject) => {
      let out = '';
      child.stdout.on('data', (chunk) => {
        out += chunk;
        const m = /^listening on (http:\/\/127\.0\.0\.1:\d+)\n/.exec(out);
        if (m) resolve(`${m[1]}/`);
      });
      exited.then((how) => reject(new Error(`pixelprint-server ended (${how}) before listening:\n${log}`)));
      setTimeout(() => reject(new Error(`pixelprint-server did not listen in 30 s:\n${log}`)), 30_000).unref();
    });
    let apiCalls = 0;
    const api = async (method, path, body, key = adminKey) => {
      apiCalls++;
      const headers = {};
      if (body !== undefined) headers['content-type'] = 'application/json';
      if (key) headers.authorization = `Bearer ${key}`;
      const r = await fetch(new URL(path, url), { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
      const text = await r.text();
      return { status: r.status, body: r.headers.get('content-type')?.startsWith('application/json') ? JSON.parse(text) : text };
    };
    // /readyz answers 503 until the index is loaded.
    for (let waited = 0; (await api('GET', '/readyz')).status !== 200; waited += 50) {
      if (waited > 30_000) throw new Error(`pixelprint-server not ready in 30 s:\n${log}`);
      await new Promise((r) => setTimeout(r, 50));
    }
    return { url, api, stop, get apiCalls() { return apiCalls; } };
  } catch (err) {
    await stop();
    throw err;
  }
}

/**
 * The matching server, a browser and a page on test/harness.html (the package under the pages'
 * CSP) with `window.hasher = await createHasher()`. `onPage(page)` runs before the page loads
 * (to listen to it); `adminKey` as for startServer. Resolves to {server, browser, page, close};
 * `close()` ends all of them.
 */
export async function startHarness({ onPage, adminKey } = {}) {
  const server = await startServer({ adminKey });
  let browser;
  const close = async () => {
    await browser?.close();
    await server.stop();
  };
  try {
    browser = await launchBrowser();
    const page = await browser.context.newPage();
    page.on('pageerror', (e) => console.error('page error:', e));
    onPage?.(page);
    await page.goto(`${server.url}test/harness.html`);
    await page.getByText('ready').waitFor();
    await page.evaluate(async () => {
      window.hasher = await window.pixelprint.createHasher();
    });
    return { server, browser, page, close };
  } catch (err) {
    await close();
    throw err;
  }
}

/**
 * In the page (pass to `page.evaluate`): starts recording main-thread long tasks and the largest
 * gap between 10 ms timer ticks, into `window.longTaskProbe`.
 */
export function startLongTaskProbe() {
  const probe = { longTasks: [], maxGap: 0, last: performance.now() };
  probe.observer = new PerformanceObserver((list) => probe.longTasks.push(...list.getEntries().map((e) => e.duration)));
  probe.observer.observe({ type: 'longtask' });
  probe.timer = setInterval(() => {
    const t = performance.now();
    probe.maxGap = Math.max(probe.maxGap, t - probe.last);
    probe.last = t;
  }, 10);
  window.longTaskProbe = probe;
}

/**
 * In the page: stops the probe. A 150 ms busy loop afterwards is the control: the observer must
 * report it, or its silence proves nothing.
 */
export async function finishLongTaskProbe() {
  const probe = window.longTaskProbe;
  clearInterval(probe.timer);
  await new Promise((r) => setTimeout(r, 50));
  const during = [...probe.longTasks];
  const spin = performance.now();
  while (performance.now() - spin < 150);
  await new Promise((r) => setTimeout(r, 200));
  probe.observer.disconnect();
  return { longTasks: during, control: probe.longTasks.slice(during.length), maxGap: probe.maxGap,
    supported: PerformanceObserver.supportedEntryTypes.includes('longtask') };
}

/** Asserts the probe saw its control and no long task over 100 ms; returns the worst one. */
export function assertNoLongTask(probe, what) {
  assert.ok(probe.supported, 'this Chromium reports long tasks');
  assert.ok(probe.control.some((d) => d >= 140), `the control busy loop was not seen as a long task: ${probe.control}`);
  const worst = Math.max(0, ...probe.longTasks);
  assert.ok(worst <= 100, `main-thread long tasks while ${what}: ${probe.longTasks.join(', ')} ms`);
  return worst;
}
