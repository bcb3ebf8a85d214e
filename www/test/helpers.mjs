// Test helpers: the conformance vectors of tests/vectors, the wasm module, a browser.
import { readFileSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';
import { mkdtempSync, rmSync } from 'node:fs';
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

/** The `pixelprint` CLI, built (a no-op when `make test` has built it) in the same target dir. */
export function cliPath() {
  const root = fileURLToPath(repo);
  execFileSync('cargo', ['build', '--quiet', '-p', 'pixelprint-cli'], { cwd: root, stdio: 'inherit' });
  return join(process.env.CARGO_TARGET_DIR ?? join(root, 'target'), 'debug', 'pixelprint');
}

/** The wasm module built by scripts/build-wasm.sh, initialised synchronously. */
export async function loadWasm() {
  const mod = await import(new URL('www/pkg/pixelprint.js', repo));
  mod.initSync({ module: readFileSync(new URL('www/pkg/pixelprint_bg.wasm', repo)) });
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

/** Starts scripts/serve.mjs on a free port; resolves to {url, stop}. */
export function startServer() {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [new URL('scripts/serve.mjs', repo).pathname, '--port', '0'],
      { stdio: ['ignore', 'pipe', 'inherit'] });
    child.on('error', reject);
    child.stdout.on('data', (chunk) => {
      const m = /http:\/\/127\.0\.0\.1:\d+\//.exec(chunk.toString());
      if (m) resolve({ url: m[0], stop: () => child.kill() });
    });
    setTimeout(() => reject(new Error('server did not start in 10 s')), 10_000).unref();
  });
}
