// The pages (site/) as files: the Content-Security-Policy has one source (site/csp.txt, which the
// server embeds and sends), and the pages reach the package only through its public entry under
// the one URL prefix the server mounts it at (`./package/`).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';

const site = new URL('../site/', import.meta.url);
const files = readdirSync(site);

test('the policy is one line a header can carry, and no page carries a copy of it', () => {
  const policy = readFileSync(new URL('csp.txt', site), 'utf8');
  assert.match(policy, /^[\x20-\x7e]+\n?$/);
  assert.match(policy, /script-src 'self' 'wasm-unsafe-eval'/);
  for (const name of files.filter((f) => f.endsWith('.html'))) {
    const html = readFileSync(new URL(name, site), 'utf8');
    assert.doesNotMatch(html, /Content-Security-Policy/i, name);
  }
});

test('the pages import the package through ./package/index.js only', () => {
  for (const name of files.filter((f) => f.endsWith('.js'))) {
    const source = readFileSync(new URL(name, site), 'utf8');
    for (const [, spec] of source.matchAll(/^import\b[^;]*?\bfrom\s*'([^']+)'/gms)) {
      assert.ok(spec === './package/index.js' || /^\.\/[\w-]+\.js$/.test(spec), `${name} imports ${spec}`);
    }
  }
});
