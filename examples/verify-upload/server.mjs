// A site's upload endpoint that checks the hashes its page computed in the browser.
//
// The page hashes the file with the pixelprint package and sends the file and the result
// together (multipart/form-data, fields `file` and `hashes`). This server hashes the received
// bytes again with the same package (in Node, inline) and compares: equal, the upload is
// accepted and answered with the server's own hashes; different, the client lied or is broken,
// and the upload is refused. Only hashes the server computed itself are ever used afterwards.
//
//   node examples/verify-upload/server.mjs [--port 8081] [--host 127.0.0.1] [--max-bytes 33554432]
//
// See README.md beside this file for the flow and why a browser's hashes are only claims.
import http from 'node:http';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createHasher } from '../../www/package/index.js';

/**
 * What the site requires the browser to compute (the package accepts these names, which are
 * also the result's keys) and the shape of each in the result. The page must ask for the same
 * list with the same options (`orientation` and `alpha` left at their defaults).
 */
export const ALGORITHMS = ['pdq', 'pdqDihedral', 'phash', 'dhash', 'md5', 'sha256'];

const hex = (digits) => ({ kind: 'hex', digits });
const SHAPES = {
  pdq: { kind: 'pdq' },
  pdqDihedral: { kind: 'list', length: 8, of: hex(64) },
  phash: hex(16),
  dhash: hex(16),
  md5: hex(32),
  sha256: hex(64),
};

/** Largest upload accepted, in bytes. */
export const DEFAULT_MAX_BYTES = 32 * 1024 * 1024;

class Refusal extends Error {
  constructor(status, code, message, extra = {}) {
    super(message);
    this.status = status;
    this.code = code;
    this.extra = extra;
  }
}

function badClaim(key, expected, value) {
  const found = JSON.stringify(value)?.slice(0, 80) ?? 'nothing';
  return new Refusal(400, 'invalid_claim', `hashes.${key}: expected ${expected}, found ${found}`, { field: key });
}

/** The claim's value at `key` checked against its shape; a clear 400 naming the field if not. */
function checkShape(key, shape, value) {
  if (shape.kind === 'hex') {
    if (typeof value !== 'string' || value.length !== shape.digits || !/^[0-9a-f]*$/i.test(value)) {
      throw badClaim(key, `${shape.digits} hex digits`, value);
    }
  } else if (shape.kind === 'list') {
    if (!Array.isArray(value) || value.length !== shape.length) throw badClaim(key, `a list of ${shape.length} hashes`, value);
    value.forEach((v, i) => checkShape(`${key}[${i}]`, shape.of, v));
  } else {
    if (value === null || typeof value !== 'object' || Array.isArray(value)) throw badClaim(key, '{hash, quality}', value);
    checkShape(`${key}.hash`, hex(64), value.hash);
    if (!Number.isInteger(value.quality) || value.quality < 0 || value.quality > 100) {
      throw badClaim(`${key}.quality`, 'an integer from 0 to 100', value.quality);
    }
  }
}

/** The claim (the `hashes` field's text) parsed and checked: every required hash, well formed. */
export function parseClaim(text) {
  if (typeof text !== 'string' || text === '') {
    throw new Refusal(400, 'missing_claim', 'the form has no `hashes` field: send the pixelprint result of the file with it');
  }
  let claim;
  try {
    claim = JSON.parse(text);
  } catch (err) {
    throw new Refusal(400, 'malformed_claim', `the \`hashes\` field is not JSON: ${err.message}`);
  }
  if (claim === null || typeof claim !== 'object' || Array.isArray(claim)) {
    throw new Refusal(400, 'malformed_claim', 'the `hashes` field is not a JSON object');
  }
  for (const key of ALGORITHMS) {
    if (!(key in claim)) throw new Refusal(400, 'invalid_claim', `hashes.${key} is missing: the page must compute ${ALGORITHMS.join(', ')}`, { field: key });
    checkShape(key, SHAPES[key], claim[key]);
  }
  return claim;
}

/** The claimed values that differ from the server's, as paths (`pdq.hash`, `pdqDihedral[3]`, ...). */
export function differences(claim, ours) {
  const out = [];
  const same = (a, b) => String(a).toLowerCase() === String(b).toLowerCase();
  for (const key of ALGORITHMS) {
    if (key === 'pdq') {
      if (!same(claim.pdq.hash, ours.pdq.hash)) out.push('pdq.hash');
      if (claim.pdq.quality !== ours.pdq.quality) out.push('pdq.quality');
    } else if (key === 'pdqDihedral') {
      ours.pdqDihedral.forEach((h, i) => same(claim.pdqDihedral[i], h) || out.push(`pdqDihedral[${i}]`));
    } else if (!same(claim[key], ours[key])) {
      out.push(key);
    }
  }
  return out;
}

/**
 * The server's hashes as a match item of the matching server's API (docs/api.md), ready for a
 * keyed `POST /v1/match`: built from what the server computed, never from the claim.
 */
export function matchItem(ours) {
  return {
    pdq: ours.pdq.hash, pdq_quality: ours.pdq.quality, pdq_dihedral: ours.pdqDihedral,
    phash: ours.phash, dhash: ours.dhash, md5: ours.md5, sha256: ours.sha256,
  };
}

/** The request body, refused with 413 past `maxBytes` (before reading it when it says so). */
async function readBody(req, maxBytes) {
  const declared = Number(req.headers['content-length']);
  if (declared > maxBytes) throw new Refusal(413, 'too_large', `the upload is ${declared} bytes, more than ${maxBytes}`);
  const chunks = [];
  let size = 0;
  for await (const chunk of req) {
    size += chunk.length;
    if (size > maxBytes) throw new Refusal(413, 'too_large', `the upload is more than ${maxBytes} bytes`);
    chunks.push(chunk);
  }
  return Buffer.concat(chunks);
}

/** The `file` and `hashes` fields of a multipart/form-data body (parsed by Node's own fetch). */
async function readForm(req, maxBytes) {
  const type = req.headers['content-type'] ?? '';
  if (!/^multipart\/form-data;/i.test(type)) {
    throw new Refusal(415, 'not_multipart', `expected multipart/form-data with fields \`file\` and \`hashes\`, found content-type ${JSON.stringify(type)}`);
  }
  const body = await readBody(req, maxBytes);
  let form;
  try {
    form = await new Response(body, { headers: { 'content-type': type } }).formData();
  } catch (err) {
    throw new Refusal(400, 'malformed_form', `the multipart body cannot be read: ${err.message}`);
  }
  const file = form.get('file');
  if (!(file instanceof Blob)) throw new Refusal(400, 'missing_file', 'the form has no `file` field holding a file');
  const hashes = form.get('hashes');
  return { file, hashes: typeof hashes === 'string' ? hashes : undefined };
}

/**
 * The upload handler: refusals are answered `{error: {code, message, ...}}` with a 4xx status;
 * an accepted upload `{verified: true, size, item}`. A real site would store the file (or
 * match `item` against its lists) here, knowing the hashes are those of the bytes it holds.
 */
async function upload(hasher, req, maxBytes) {
  const { file, hashes } = await readForm(req, maxBytes);
  // The claim is checked before any hashing: a malformed one costs no CPU.
  const claim = parseClaim(hashes);
  const bytes = new Uint8Array(await file.arrayBuffer());
  let ours;
  try {
    ours = await hasher.hash(bytes, { algorithms: ALGORITHMS });
  } catch (err) {
    if (!err.code) throw err;
    // The page hashed something this server cannot decode (or a browser decoder did: a
    // `decodedBy: 'browser'` result cannot be checked here): unverified, so refused.
    throw new Refusal(422, 'undecodable_image', `the uploaded file cannot be hashed here (${err.code}): ${err.message}`);
  }
  const differing = differences(claim, ours);
  if (differing.length > 0) {
    throw new Refusal(422, 'hash_mismatch',
      `the hashes sent with the file are not the file's: ${differing.join(', ')} differ`, { fields: differing });
  }
  return { verified: true, size: bytes.length, item: matchItem(ours) };
}

function send(res, status, body) {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

/**
 * An HTTP server answering `POST /upload`; not yet listening. `maxBytes`: the largest body
 * accepted; `log`: where refusals and failures are reported (a tampered client shows up here).
 */
export async function createUploadServer({ maxBytes = DEFAULT_MAX_BYTES, log = console.error } = {}) {
  const hasher = await createHasher();
  const server = http.createServer(async (req, res) => {
    const path = new URL(req.url, 'http://localhost').pathname;
    if (path !== '/upload') return send(res, 404, { error: { code: 'not_found', message: `no route ${path}` } });
    if (req.method !== 'POST') {
      res.setHeader('allow', 'POST');
      return send(res, 405, { error: { code: 'method_not_allowed', message: `${req.method} is not allowed here: POST the form to /upload` } });
    }
    try {
      send(res, 200, await upload(hasher, req, maxBytes));
    } catch (err) {
      if (!(err instanceof Refusal)) {
        log(`upload failed: ${err.stack ?? err}`);
        return send(res, 500, { error: { code: 'internal', message: 'internal error' } });
      }
      if (err.code === 'hash_mismatch') log(`upload from ${req.socket.remoteAddress} refused: ${err.message}`);
      // The rest of a body refused before its end is read and dropped (the client is still
      // sending it, and would see a broken connection instead of this answer).
      req.resume();
      send(res, err.status, { error: { code: err.code, message: err.message, ...err.extra } });
    }
  });
  server.on('close', () => hasher.terminate());
  return server;
}

/** The integer value of `--name` (else `fallback`), exiting with a message when it is not one in [min, max]. */
function intFlag(name, fallback, min, max) {
  const i = process.argv.indexOf(`--${name}`);
  const text = i > 0 ? process.argv[i + 1] : String(fallback);
  const value = Number(text);
  if (!/^\d+$/.test(text ?? '') || value < min || value > max) {
    console.error(`verify-upload: --${name} must be an integer from ${min} to ${max}, found ${JSON.stringify(text ?? null)}`);
    process.exit(2);
  }
  return value;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === resolve(process.argv[1])) {
  const port = intFlag('port', 8081, 0, 65535);
  const maxBytes = intFlag('max-bytes', DEFAULT_MAX_BYTES, 1, 2 ** 31 - 1);
  const i = process.argv.indexOf('--host');
  const host = i > 0 ? process.argv[i + 1] : '127.0.0.1';
  if (!host) {
    console.error('verify-upload: --host needs an address');
    process.exit(2);
  }
  const server = await createUploadServer({ maxBytes });
  server.listen(port, host, () => {
    const { address, port: bound } = server.address();
    console.log(`listening on http://${address}:${bound}/upload`);
  });
}
