// CONTRACT STAND-IN FOR PAGE TESTS ONLY. Not the matching server: a minimal in-memory HTTP
// server implementing POST /v1/match, POST /v1/tips, GET /v1/tips/{id} and
// GET /v1/tips/categories as the shared API v1 contract describes them, plus www/ with the
// pages' CSP, so the pages can be driven in Chromium. It records every request (method, path,
// headers, raw body) for the tests' assertions. The final integration replaces it with the
// real server (crate pixelprint-server).
import { createServer } from 'node:http';
import { readFile } from 'node:fs/promises';
import { extname, join, normalize, resolve } from 'node:path';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';

const root = resolve(fileURLToPath(new URL('../', import.meta.url)));
const CSP = "default-src 'self'; connect-src 'self'; script-src 'self' 'wasm-unsafe-eval'; worker-src 'self'; " +
  "img-src 'self' blob:; style-src 'self'; frame-ancestors 'none'";
const TYPES = { '.html': 'text/html; charset=utf-8', '.js': 'text/javascript; charset=utf-8', '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8', '.wasm': 'application/wasm', '.png': 'image/png' };
const ITEM_KEYS = ['pdq', 'pdq_quality', 'pdq_dihedral', 'phash', 'dhash', 'ahash', 'md5', 'sha256'];
const CATEGORIES = [
  ['non_consensual_intimate_imagery', 'Intimate images shared without consent'],
  ['child_sexual_abuse', 'Child sexual abuse'],
  ['violent_extremism', 'Violent extremism'],
  ['harassment', 'Harassment'],
  ['other', 'Something else'],
].map(([id, label]) => ({ id, label }));
const VARIANTS = ['orig', 'rot90', 'rot180', 'rot270', 'flipx', 'flipy', 'flipplus1', 'flipminus1'];

class BadRequest extends Error {
  constructor(message, field) {
    super(message);
    this.field = field;
  }
}

function distance(a, b) {
  let d = 0;
  for (let i = 0; i < a.length; i++) {
    let x = parseInt(a[i], 16) ^ parseInt(b[i], 16);
    while (x) {
      d += x & 1;
      x >>= 1;
    }
  }
  return d;
}

function checkKeys(obj, allowed, where) {
  if (!obj || typeof obj !== 'object' || Array.isArray(obj)) throw new BadRequest(`${where} must be an object`);
  for (const key of Object.keys(obj)) if (!allowed.includes(key)) throw new BadRequest(`unknown field ${key} in ${where}`, key);
}

function checkItems(items, max) {
  if (!Array.isArray(items) || items.length < 1 || items.length > max) throw new BadRequest(`items must hold 1 to ${max} items`, 'items');
  items.forEach((item, i) => {
    checkKeys(item, ITEM_KEYS, `item ${i}`);
    if (Object.keys(item).length === 0) throw new BadRequest(`item ${i} is empty`);
    const hex = { pdq: 64, phash: 16, dhash: 16, ahash: 16, md5: 32, sha256: 64 };
    for (const [key, len] of Object.entries(hex)) {
      if (key in item && !new RegExp(`^[0-9a-fA-F]{${len}}$`).test(item[key])) throw new BadRequest(`${key} must be ${len} hex digits`, key);
    }
  });
}

/**
 * Starts the stand-in on a free port. `banks`: {name: [{entry_id, algorithm, hash}]}.
 * Resolves to {url, requests, tips, stop}.
 */
export function startStandIn({ banks = {} } = {}) {
  const requests = [];
  const tips = new Map();
  const json = (res, status, body) => {
    res.writeHead(status, { 'content-type': 'application/json' });
    res.end(JSON.stringify(body));
  };

  function match(body) {
    checkKeys(body, ['items', 'banks', 'thresholds'], 'the request');
    checkItems(body.items, 1000);
    return {
      results: body.items.map((item, i) => {
        const matches = [];
        const notMatchable = [];
        const pdqOk = !('pdq_quality' in item) || item.pdq_quality >= 50;
        if (item.pdq && !pdqOk) notMatchable.push({ algorithm: 'pdq', reason: `pdq quality ${item.pdq_quality} is below 50` });
        for (const [bank, entries] of Object.entries(banks)) {
          for (const e of entries) {
            if (e.algorithm === 'pdq' && pdqOk && item.pdq) {
              const d = distance(item.pdq.toLowerCase(), e.hash);
              if (d <= 31) matches.push({ bank, entry_id: e.entry_id, algorithm: 'pdq', distance: d });
            } else if (['md5', 'sha256'].includes(e.algorithm) && item[e.algorithm]?.toLowerCase() === e.hash) {
              matches.push({ bank, entry_id: e.entry_id, algorithm: e.algorithm, distance: 0 });
            }
          }
        }
        matches.sort((a, b) => a.distance - b.distance || a.bank.localeCompare(b.bank) || a.entry_id.localeCompare(b.entry_id));
        return { item: i, matches, not_matchable: notMatchable };
      }),
    };
  }

  function tip(body) {
    checkKeys(body, ['items', 'category', 'description', 'urls', 'contact'], 'the request');
    checkItems(body.items, 100);
    if (!CATEGORIES.some((c) => c.id === body.category)) throw new BadRequest('unknown category', 'category');
    if ('description' in body && (typeof body.description !== 'string' || body.description.length > 5000)) throw new BadRequest('description too long', 'description');
    if ('contact' in body && (typeof body.contact !== 'string' || body.contact.length > 500)) throw new BadRequest('contact too long', 'contact');
    if ('urls' in body && (!Array.isArray(body.urls) || body.urls.length > 20 || body.urls.some((u) => !/^https?:\/\//.test(u)))) {
      throw new BadRequest('urls must be up to 20 http(s) addresses', 'urls');
    }
    const id = randomBytes(8).toString('hex');
    const token = randomBytes(24).toString('base64url');
    const now = new Date().toISOString();
    tips.set(id, { token, body, status: 'received', created_at: now, updated_at: now });
    return { tip_id: id, receipt_token: token, status: 'received' };
  }

  const server = createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', async () => {
      const body = Buffer.concat(chunks);
      const path = decodeURIComponent(new URL(req.url, 'http://x').pathname);
      requests.push({ method: req.method, path, headers: req.headers, body });
      try {
        if (path.startsWith('/v1/')) {
          if (req.method === 'GET' && path === '/v1/tips/categories') return json(res, 200, { categories: CATEGORIES });
          if (req.method === 'POST' && path === '/v1/match') return json(res, 200, match(JSON.parse(body)));
          if (req.method === 'POST' && path === '/v1/tips') return json(res, 201, tip(JSON.parse(body)));
          const m = /^\/v1\/tips\/([^/]+)$/.exec(path);
          if (req.method === 'GET' && m) {
            const t = tips.get(m[1]);
            if (!t || req.headers.authorization !== `Bearer ${t.token}`) {
              return json(res, 404, { error: { code: 'not_found', message: 'no tip with this id and token' } });
            }
            return json(res, 200, { tip_id: m[1], status: t.status, created_at: t.created_at, updated_at: t.updated_at });
          }
          return json(res, 404, { error: { code: 'not_found', message: `no route ${req.method} ${path}` } });
        }
        const file = normalize(join(root, path.endsWith('/') ? `${path}index.html` : path));
        if (!file.startsWith(root) || file.includes('node_modules')) throw Object.assign(new Error('outside'), { code: 'ENOENT' });
        const content = await readFile(file);
        res.writeHead(200, { 'content-type': TYPES[extname(file)] ?? 'application/octet-stream', 'content-security-policy': CSP, 'cache-control': 'no-cache' });
        res.end(content);
      } catch (err) {
        if (err instanceof BadRequest || err instanceof SyntaxError) {
          return json(res, 400, { error: { code: 'invalid_request', message: err.message, ...(err.field ? { field: err.field } : {}) } });
        }
        res.writeHead(404).end('not found');
      }
    });
  });
  return new Promise((resolvePromise) => {
    server.listen(0, '127.0.0.1', () => {
      resolvePromise({ url: `http://127.0.0.1:${server.address().port}/`, requests, tips, stop: () => server.close() });
    });
  });
}
