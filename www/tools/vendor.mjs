// Copies the ES module files of the MP4 demuxer (the npm package mp4box, a devDependency) into
// package/vendor/mp4box, with its licence: the worker imports it by a relative path, which works
// when package/ is served as it is (no bundler, and module workers have no import maps), from the
// packed package and through bundlers alike. Run by `npm ci`/`npm install` in www/ (the `prepare`
// script) and by scripts/build-npm.sh before `npm pack`.
import { readFileSync, writeFileSync, mkdirSync, rmSync, readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const www = new URL('../', import.meta.url);
const source = new URL('node_modules/mp4box/', www);
const target = new URL('package/vendor/mp4box/', www);
const { version } = JSON.parse(readFileSync(new URL('package.json', source), 'utf8'));
const entry = 'mp4box.all.mjs';

// The entry and the chunks it imports (their names carry a content hash), transitively.
const files = new Set();
const pending = [entry];
while (pending.length) {
  const name = pending.pop();
  if (files.has(name)) continue;
  files.add(name);
  const text = readFileSync(new URL(`dist/${name}`, source), 'utf8');
  for (const [, dep] of text.matchAll(/^(?:import|export)\b[^;]*?\bfrom\s*"\.\/([^"]+)"/gms)) pending.push(dep);
}
rmSync(target, { recursive: true, force: true });
mkdirSync(target, { recursive: true });
for (const name of files) {
  // Source maps point at sources that are not shipped: the comment is dropped.
  const text = readFileSync(new URL(`dist/${name}`, source), 'utf8').replace(/\n\/\/# sourceMappingURL=\S+\s*$/, '\n');
  writeFileSync(new URL(name, target), text);
}
writeFileSync(new URL('LICENSE', target), readFileSync(new URL('LICENSE', source)));
writeFileSync(new URL('VERSION', target), `mp4box ${version}\n`);
// On standard error: `npm pack` prints the tarball name alone on standard output.
console.error(`vendor: mp4box ${version} -> ${fileURLToPath(target)} (${readdirSync(target).join(', ')})`);
