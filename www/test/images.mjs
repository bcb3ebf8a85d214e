// Test images made here, without wasm: PNGs written with Node's zlib, an ICO wrapping a PNG
// (a format Chromium decodes and the wasm module does not), and the CLI's output for files.
import { deflateSync } from 'node:zlib';
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { repo, cliPath } from './helpers.mjs';

const CRC_TABLE = Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});

function crc32(bytes) {
  let c = 0xffffffff;
  for (const b of bytes) c = CRC_TABLE[(c ^ b) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

function chunk(type, data) {
  const out = Buffer.alloc(12 + data.length);
  out.writeUInt32BE(data.length, 0);
  out.write(type, 4, 'latin1');
  data.copy(out, 8);
  out.writeUInt32BE(crc32(out.subarray(4, 8 + data.length)), 8 + data.length);
  return out;
}

function ihdr(width, height) {
  const h = Buffer.alloc(13);
  h.writeUInt32BE(width, 0);
  h.writeUInt32BE(height, 4);
  h[8] = 8; // bit depth
  h[9] = 2; // RGB
  return chunk('IHDR', h);
}

const SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

/** An opaque 8-bit RGB PNG whose pixel (x, y) is `pixel(x, y)` -> [r, g, b]. */
export function makePng(width, height, pixel) {
  const stride = width * 3 + 1;
  const raw = Buffer.alloc(stride * height);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const [r, g, b] = pixel(x, y);
      const o = y * stride + 1 + x * 3;
      raw[o] = r;
      raw[o + 1] = g;
      raw[o + 2] = b;
    }
  }
  return Buffer.concat([SIGNATURE, ihdr(width, height), chunk('IDAT', deflateSync(raw, { level: 1 })), chunk('IEND', Buffer.alloc(0))]);
}

/** A 6000x4000 (24 MP) opaque PNG of gradients and a pattern (4.5 MB). */
export const png24Mp = () => makePng(6000, 4000, (x, y) => [(x >> 4) & 255, (y >> 4) & 255, ((x ^ y) >> 3) & 255]);

/** A valid PNG header claiming width x height pixels, followed by one row of data only. */
export function pngClaiming(width, height) {
  return Buffer.concat([SIGNATURE, ihdr(width, height), chunk('IDAT', deflateSync(Buffer.alloc(16))), chunk('IEND', Buffer.alloc(0))]);
}

/** An ICO file holding one PNG image (the PNG-in-ICO form browsers decode). */
export function icoWrapping(png, width, height) {
  const header = Buffer.alloc(22);
  header.writeUInt16LE(0, 0);
  header.writeUInt16LE(1, 2);
  header.writeUInt16LE(1, 4);
  header[6] = width >= 256 ? 0 : width;
  header[7] = height >= 256 ? 0 : height;
  header.writeUInt16LE(1, 10);
  header.writeUInt16LE(32, 12);
  header.writeUInt32LE(png.length, 14);
  header.writeUInt32LE(22, 18);
  return Buffer.concat([header, png]);
}

const root = fileURLToPath(repo);
let cli = null;

/** `pixelprint hash` (the CLI, debug build) for files: one JSON object per file, `path` removed. */
export function cliHash(algorithms, orientation, paths) {
  cli ??= cliPath();
  const out = execFileSync(cli,
    ['hash', '--algorithms', algorithms, '--orientation', orientation, ...paths], { cwd: root, encoding: 'utf8' });
  return out.trim().split('\n').map((l) => {
    const { path, ...rest } = JSON.parse(l);
    return rest;
  });
}

/** The CLI's snake_case keys as the package's camelCase ones. */
export function camel(obj) {
  const keys = { pdq_dihedral: 'pdqDihedral', pdq_trimmed: 'pdqTrimmed', pdq_embedded: 'pdqEmbedded', pdq_captioned: 'pdqCaptioned', pdq_straightened: 'pdqStraightened', phash_mirrored: 'phashMirrored', dhash_vertical: 'dhashVertical' };
  return Object.fromEntries(Object.entries(obj).map(([k, v]) => [keys[k] ?? k, v]));
}

export const ALL = 'pdq,pdq-dihedral,ahash,dhash,dhash-vertical,phash,phash16,whash,md5,sha1,sha256';
