// Times pdqFromRgba of the wasm package (www/package/pkg) in Node on raw RGB pixels (converted
// to RGBA before timing). usage: node bench/pdq/wasm.mjs FILE W H REPS
// -> one JSON line {"hash", "quality", "ms" (median process CPU time), "memory_bytes": linear memory after the runs}.
import { readFileSync } from 'node:fs';

const [file, w, h, reps] = process.argv.slice(2);
const width = Number(w), height = Number(h);
const mod = await import(new URL('../../www/package/pkg/pixelprint.js', import.meta.url));
const wasm = mod.initSync({ module: readFileSync(new URL('../../www/package/pkg/pixelprint_bg.wasm', import.meta.url)) });
const rgb = readFileSync(file);
if (rgb.length !== width * height * 3) throw new Error(`${file}: size`);
const rgba = new Uint8Array(width * height * 4);
for (let i = 0, j = 0; i < rgb.length; i += 3, j += 4) {
  rgba[j] = rgb[i]; rgba[j + 1] = rgb[i + 1]; rgba[j + 2] = rgb[i + 2]; rgba[j + 3] = 255;
}
const times = [];
let out;
for (let r = 0; r < Number(reps); r++) {
  const start = process.cpuUsage();
  out = mod.pdqFromRgba(rgba, width, height);
  const used = process.cpuUsage(start);
  times.push((used.user + used.system) / 1e3);
}
times.sort((a, b) => a - b);
console.log(JSON.stringify({
  hash: out.hash, quality: out.quality, ms: times[Math.floor(times.length / 2)],
  memory_bytes: wasm.memory.buffer.byteLength,
}));
