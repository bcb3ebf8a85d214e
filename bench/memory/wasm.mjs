// Hashes FILE with the wasm module's hashBytes in Node (ALGORITHMS: a comma-separated list,
// default the CLI's defaults) and prints one JSON line: the result and the wasm linear memory
// size afterwards. One process per measurement: a fresh instance each time.
import { readFileSync } from 'node:fs';

const [file, algorithms] = process.argv.slice(2);
const root = new URL('../../', import.meta.url);
const wasm = await import(new URL('www/package/pkg/pixelprint.js', root));
const instance = wasm.initSync({ module: readFileSync(new URL('www/package/pkg/pixelprint_bg.wasm', root)) });
const result = wasm.hashBytes(readFileSync(file), algorithms ? { algorithms } : undefined);
console.log(JSON.stringify({ result, memory_bytes: instance.memory.buffer.byteLength }));
