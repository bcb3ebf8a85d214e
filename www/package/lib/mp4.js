// MP4/MOV demuxing for the video hasher, in bounded memory. The top-level boxes are found by
// reading their headers only; `moov` (the index) is read and parsed with mp4box (the npm package,
// copied to vendor/mp4box by `npm run vendor`); the video track's sample table is expanded into
// typed arrays (about 30 bytes a frame). The frames' bytes are then read range by range straight
// from the file (readSamples), so memory holds the index and a few megabytes, never the video.
//
// The frame rate is FFmpeg's `avg_frame_rate` for MP4/MOV (libavformat/mov.c: the sample count
// over the sum of the `stts` durations, the last one tamed as mov_read_stts does), the rate the
// reference `vpdq-hash-video` and `pixelprint hash-video` select frames with.
import { ISOFile, MultiBufferStream, MP4BoxBuffer, DataStream, Endianness, Log } from '../vendor/mp4box/mp4box.all.mjs';
import { PixelprintError } from './core.js';

// mp4box logs what it cannot parse (unknown boxes, ...) to the console; errors that matter
// surface here as exceptions or missing boxes instead.
Log.error = () => {};
Log.warn = () => {};

/** Larger `moov` boxes are refused (a two-hour 60 fps video has about 10 MB of index). */
export const DEFAULT_MAX_INDEX_BYTES = 64 * 1024 * 1024;
/** Longer videos are refused: about 18 hours at 30 frames a second. */
export const DEFAULT_MAX_FRAMES = 2_000_000;
const MAX_TOP_LEVEL_BOXES = 100_000;
/** Top-level boxes an MP4 or QuickTime file may start with. */
const FIRST_BOXES = new Set(['ftyp', 'moov', 'mdat', 'free', 'skip', 'wide', 'pnot', 'uuid', 'junk']);
/** Sample entries whose decoder configuration box WebCodecs takes as `description`. */
const CONFIG_BOXES = ['avcC', 'hvcC', 'vpcC', 'av1C', 'vvcC'];

async function readAt(blob, start, end) {
  return new Uint8Array(await blob.slice(start, end).arrayBuffer());
}

const fourcc = (bytes, at) => String.fromCharCode(...bytes.subarray(at, at + 4));
const isBoxType = (type) => /^[\x20-\x7e\xa9]{4}$/.test(type);

function fail(code, message) {
  return new PixelprintError(code, message);
}

/** The top-level boxes: where `moov` is, whether the file is fragmented. */
async function topLevelBoxes(blob) {
  const fileSize = blob.size;
  let pos = 0;
  let moov = null;
  let fragmented = false;
  const types = [];
  while (pos < fileSize) {
    const head = await readAt(blob, pos, Math.min(pos + 16, fileSize));
    const type = head.length >= 8 ? fourcc(head, 4) : '';
    if (pos === 0 && !FIRST_BOXES.has(type)) {
      throw fail('unsupported_format', 'not an MP4 or QuickTime (MOV) file: the browser hashes only those; the CLI reads other containers');
    }
    if (!isBoxType(type)) {
      // Junk after the last box (padding, a partial write): FFmpeg ignores it too.
      if (moov) break;
      throw fail('corrupt_video', `no valid box at byte ${pos} of ${fileSize}, and no moov box before it`);
    }
    const view = new DataView(head.buffer, head.byteOffset, head.byteLength);
    let size = view.getUint32(0);
    let header = 8;
    if (size === 1) {
      if (head.length < 16) throw fail('truncated_video', `the ${type} box at byte ${pos} is cut short in its header`);
      size = Number(view.getBigUint64(8));
      header = 16;
    } else if (size === 0) {
      size = fileSize - pos;
    }
    if (size < header) throw fail('corrupt_video', `the ${type} box at byte ${pos} declares ${size} bytes, less than its header`);
    if (pos + size > fileSize) {
      throw fail('truncated_video', `the ${type} box at byte ${pos} declares ${size} bytes but the file ends ${fileSize - pos} bytes after its start: the file is cut short`);
    }
    if (type === 'moov' && !moov) moov = { pos, size };
    if (type === 'moof') fragmented = true;
    types.push(type);
    if (types.length > MAX_TOP_LEVEL_BOXES) throw fail('corrupt_video', `more than ${MAX_TOP_LEVEL_BOXES} top-level boxes`);
    pos += size;
  }
  return { moov, fragmented, types };
}

/** mp4box's parse of the `moov` box alone (no sample lists: those are built here, compactly). */
function parseMoov(bytes) {
  const buffer = new MP4BoxBuffer(bytes.length);
  new Uint8Array(buffer).set(bytes);
  buffer.fileStart = 0;
  let file;
  try {
    file = new ISOFile(new MultiBufferStream(buffer));
  } catch (err) {
    throw fail('corrupt_video', `the moov box (the index) cannot be read: ${err.message}`);
  }
  if (!file.moov) throw fail('corrupt_video', 'the moov box (the index) cannot be read');
  return file.moov;
}

function isVideoTrack(trak) {
  const entry = trak.mdia?.minf?.stbl?.stsd?.entries?.[0];
  return trak.mdia?.hdlr?.handler === 'vide' && entry && typeof entry.getWidth === 'function';
}

/** `description` for VideoDecoder.configure: the configuration box without its header. */
function decoderDescription(entry) {
  for (const name of CONFIG_BOXES) {
    const box = entry[name];
    if (box) {
      const stream = new DataStream(undefined, 0, Endianness.BIG_ENDIAN);
      box.write(stream);
      return new Uint8Array(stream.buffer, 8);
    }
  }
  return undefined;
}

/** The bits of an H.264 NAL unit, without its header byte and emulation prevention bytes. */
class Bits {
  constructor(nal) {
    this.bytes = [];
    let zeros = 0;
    for (let i = 1; i < nal.length; i++) {
      if (zeros >= 2 && nal[i] === 3) {
        zeros = 0;
        continue;
      }
      zeros = nal[i] === 0 ? zeros + 1 : 0;
      this.bytes.push(nal[i]);
    }
    this.pos = 0;
  }

  u(n) {
    let v = 0;
    for (let i = 0; i < n; i++, this.pos++) {
      const byte = this.bytes[this.pos >> 3];
      if (byte === undefined) throw new Error('the parameter set ends early');
      v = v * 2 + ((byte >> (7 - (this.pos & 7))) & 1);
    }
    return v;
  }

  ue() {
    let zeros = 0;
    while (this.u(1) === 0) if (++zeros > 31) throw new Error('bad Exp-Golomb code');
    return 2 ** zeros - 1 + this.u(zeros);
  }

  se() {
    const k = this.ue();
    return k % 2 ? (k + 1) / 2 : -k / 2;
  }
}

/** H.264 profiles whose SPS carries chroma format, bit depths and scaling lists (ITU-T H.264 7.3.2.1.1). */
const HIGH_PROFILES = new Set([100, 110, 122, 244, 44, 83, 86, 118, 128, 138, 139, 134, 135]);

/**
 * The colour signalling of an H.264 sequence parameter set's VUI: {matrix, fullRange}, each
 * present only when the stream says it (matrix: the H.273 matrix_coefficients code).
 */
export function h264Colour(sps) {
  const r = new Bits(sps);
  const profile = r.u(8);
  r.u(16);
  r.ue();
  if (HIGH_PROFILES.has(profile)) {
    const chromaFormat = r.ue();
    if (chromaFormat === 3) r.u(1);
    r.ue();
    r.ue();
    r.u(1);
    if (r.u(1)) {
      for (let i = 0; i < (chromaFormat === 3 ? 12 : 8); i++) {
        if (!r.u(1)) continue;
        let last = 8;
        let next = 8;
        for (let j = 0; j < (i < 6 ? 16 : 64); j++) {
          if (next !== 0) next = (last + r.se() + 256) % 256;
          if (next !== 0) last = next;
        }
      }
    }
  }
  r.ue();
  const pocType = r.ue();
  if (pocType === 0) {
    r.ue();
  } else if (pocType === 1) {
    r.u(1);
    r.se();
    r.se();
    for (let n = r.ue(); n > 0; n--) r.se();
  }
  r.ue();
  r.u(1);
  r.ue();
  r.ue();
  if (!r.u(1)) r.u(1);
  r.u(1);
  if (r.u(1)) for (let i = 0; i < 4; i++) r.ue();
  if (!r.u(1)) return {};
  if (r.u(1) && r.u(8) === 255) r.u(32);
  if (r.u(1)) r.u(1);
  if (!r.u(1)) return {};
  r.u(3);
  const fullRange = r.u(1) === 1;
  if (!r.u(1)) return { fullRange };
  r.u(16);
  return { fullRange, matrix: r.u(8) };
}

/** The `colr` box of a sample entry (nclx or QuickTime's nclc): {matrix, fullRange?}, or {}. */
function colrColour(entry) {
  const data = entry.colr?.data;
  if (!data || data.length < 10) return {};
  const type = String.fromCharCode(...data.subarray(0, 4));
  if (type !== 'nclx' && type !== 'nclc') return {};
  const matrix = (data[8] << 8) | data[9];
  return type === 'nclx' && data.length >= 11 ? { matrix, fullRange: (data[10] & 0x80) !== 0 } : { matrix };
}

/**
 * The frames' colour matrix and range as FFmpeg decodes them (what the CLI converts with): the
 * H.264 stream's own signalling, else the container's `colr` box, else unspecified (null), which
 * FFmpeg converts as BT.601. For other codecs without a `colr` box: null (unknown here).
 */
function colourOf(entry) {
  const container = colrColour(entry);
  const sps = entry.avcC?.SPS?.[0]?.data;
  if (!sps) return container.matrix === undefined ? null : { matrix: container.matrix, fullRange: !!container.fullRange };
  let stream = {};
  try {
    stream = h264Colour(sps);
  } catch {
    stream = {};
  }
  return { matrix: stream.matrix ?? container.matrix ?? null, fullRange: stream.fullRange ?? container.fullRange ?? false };
}

function gcd(a, b) {
  while (b) [a, b] = [b, a % b];
  return a;
}

/**
 * FFmpeg's avg_frame_rate of an MP4 track: `timescale * samples / duration`, the duration being
 * the sum of the `stts` entries with mov_read_stts's correction of a single outsized last one.
 * Returns {num, den, value} or null when the durations add up to 0.
 */
export function averageFrameRate(timescale, counts, deltas) {
  let duration = 0;
  let total = 0;
  for (let i = 0; i < counts.length; i++) {
    let delta = deltas[i];
    if (i + 1 === counts.length && i > 0 && counts[i] === 1 && total > 100 &&
        Math.floor(delta / 10) > Math.floor(duration / total)) {
      delta = Math.floor(duration / total);
    }
    duration += delta * counts[i];
    total += counts[i];
  }
  if (!(duration > 0 && total > 0 && timescale > 0)) return null;
  const num = timescale * total;
  const g = gcd(num, duration);
  return { num: num / g, den: duration / g, value: (num / g) / (duration / g) };
}

/**
 * The presentation window of a track's edit list, in media ticks: {start, end} (end Infinity when
 * open), or null when every frame is shown. FFmpeg (mov_fix_index) drops the decoded frames whose
 * composition time falls outside the edit, so `-ss ... -c copy` cuts start at the right frame;
 * the frames are numbered after that. One edit (after empty ones, which only delay the start) at
 * normal rate is applied; other edit lists are not, and every frame is counted.
 */
function editWindow(trak, movieTimescale) {
  const edits = (trak.edts?.elst?.entries ?? []).filter((e) => e.media_time !== -1 && e.media_time !== 0xffffffff);
  if (edits.length !== 1) return null;
  const [edit] = edits;
  if (edit.media_rate_integer !== 1 || edit.media_time < 0) return null;
  const timescale = trak.mdia.mdhd.timescale;
  const end = edit.segment_duration > 0 && movieTimescale > 0
    ? edit.media_time + Math.floor((edit.segment_duration * timescale) / movieTimescale)
    : Infinity;
  return { start: edit.media_time, end };
}

/** The sample table of one track as typed arrays, in decoding order. */
function sampleTable(trak, fileSize, maxFrames) {
  const stbl = trak.mdia.minf.stbl;
  const stsz = stbl.stsz ?? stbl.stz2;
  const stco = stbl.stco ?? stbl.co64;
  const { stsc, stts, ctts, stss } = stbl;
  if (!stsz || !stco || !stsc || !stts) throw fail('corrupt_video', 'the video track has no complete sample table (stsz, stco, stsc, stts)');
  const count = stsz.sample_sizes?.length || stsz.sample_count || 0;
  if (count === 0) throw fail('no_frames', 'the video track has no frames');
  if (count > maxFrames) throw fail('too_many_frames', `the video has ${count} frames, more than the limit of ${maxFrames}`);
  if (stsc.sample_description_index.some((d) => d !== 1)) {
    throw fail('unsupported_format', 'the video track switches between several codec configurations, which the browser hasher does not support');
  }
  const offset = new Float64Array(count);
  const size = new Uint32Array(count);
  const dts = new Float64Array(count);
  const cts = new Float64Array(count);
  const key = new Uint8Array(count);
  // stsc: runs of chunks with the same number of samples each.
  const chunks = stco.chunk_offsets;
  let n = 0;
  for (let run = 0; run < stsc.first_chunk.length && n < count; run++) {
    const first = stsc.first_chunk[run];
    const last = run + 1 < stsc.first_chunk.length ? stsc.first_chunk[run + 1] - 1 : chunks.length;
    const perChunk = stsc.samples_per_chunk[run];
    for (let c = first; c <= last && n < count; c++) {
      if (c < 1 || c > chunks.length) throw fail('corrupt_video', `the sample table names chunk ${c} of ${chunks.length}`);
      let at = chunks[c - 1];
      for (let k = 0; k < perChunk && n < count; k++, n++) {
        const s = stsz.sample_size || stsz.sample_sizes[n];
        offset[n] = at;
        size[n] = s;
        at += s;
      }
    }
  }
  if (n < count) throw fail('corrupt_video', `the sample table lists ${count} frames but its chunks hold ${n}`);
  let t = 0;
  n = 0;
  for (let i = 0; i < stts.sample_counts.length && n < count; i++) {
    for (let k = 0; k < stts.sample_counts[i] && n < count; k++, n++) {
      dts[n] = t;
      t += stts.sample_deltas[i];
    }
  }
  for (; n < count; n++) dts[n] = t;
  n = 0;
  if (ctts) {
    for (let i = 0; i < ctts.sample_counts.length && n < count; i++) {
      for (let k = 0; k < ctts.sample_counts[i] && n < count; k++, n++) cts[n] = dts[n] + ctts.sample_offsets[i];
    }
  }
  for (; n < count; n++) cts[n] = dts[n];
  if (stss) {
    for (const s of stss.sample_numbers) if (s >= 1 && s <= count) key[s - 1] = 1;
  } else {
    key.fill(1);
  }
  for (let i = 0; i < count; i++) {
    if (offset[i] + size[i] > fileSize) {
      throw fail('truncated_video', `frame ${i + 1} of ${count} lies past the end of the file (byte ${offset[i] + size[i]} of ${fileSize}): the file is cut short`);
    }
  }
  return { count, offset, size, dts, cts, key };
}

/**
 * The video track of an MP4/MOV Blob: {codec, description, width, height, timescale,
 * frameRate, samples: {count, offset, size, dts, cts, key}, window: {start, end} | null,
 * colour: {matrix: H.273 code | null, fullRange} | null (null: not known from the file)}.
 * Errors: empty_input, unsupported_format, truncated_video, corrupt_video, no_video_stream,
 * no_frames, unknown_frame_rate, too_many_frames, input_too_large.
 */
export async function readMovie(blob, { maxIndexBytes = DEFAULT_MAX_INDEX_BYTES, maxFrames = DEFAULT_MAX_FRAMES } = {}) {
  if (blob.size === 0) throw fail('empty_input', 'the file is empty (0 bytes)');
  const { moov, fragmented } = await topLevelBoxes(blob);
  if (fragmented) {
    throw fail('unsupported_format', 'fragmented MP4 (moof boxes) is not supported by the browser hasher; the CLI reads it');
  }
  if (!moov) throw fail('corrupt_video', 'the file has no moov box (the index of its frames)');
  if (moov.size > maxIndexBytes) {
    throw fail('input_too_large', `the moov box (the index) has ${moov.size} bytes, more than the limit of ${maxIndexBytes}`);
  }
  const parsed = parseMoov(await readAt(blob, moov.pos, moov.pos + moov.size));
  if (parsed.mvex) {
    throw fail('unsupported_format', 'fragmented MP4 (an mvex box) is not supported by the browser hasher; the CLI reads it');
  }
  const traks = parsed.traks ?? [];
  const trak = traks.find(isVideoTrack);
  if (!trak) {
    const kinds = traks.map((t) => ({ soun: 'audio', text: 'text', sbtl: 'subtitle', subt: 'subtitle' })[t.mdia?.hdlr?.handler] ?? t.mdia?.hdlr?.handler ?? 'unknown');
    throw fail('no_video_stream', kinds.length ? `the file has no video track, only ${[...new Set(kinds)].join(', ')}` : 'the file has no track');
  }
  const entry = trak.mdia.minf.stbl.stsd.entries[0];
  const timescale = trak.mdia.mdhd.timescale;
  const { stts } = trak.mdia.minf.stbl;
  const rate = stts ? averageFrameRate(timescale, stts.sample_counts, stts.sample_deltas) : null;
  if (!rate) throw fail('unknown_frame_rate', 'the video track has no frame durations, so no frame rate');
  return {
    codec: entry.getCodec(),
    description: decoderDescription(entry),
    width: entry.getWidth(),
    height: entry.getHeight(),
    timescale,
    frameRate: rate.value,
    samples: sampleTable(trak, blob.size, maxFrames),
    window: editWindow(trak, parsed.mvhd?.timescale),
    colour: colourOf(entry),
  };
}

/**
 * The frames' bytes in decoding order, read in ranges of at most `chunkBytes` (consecutive frames
 * are usually adjacent in the file): yields {index, data} one frame at a time.
 */
export async function* readSamples(blob, samples, { chunkBytes = 4 * 1024 * 1024 } = {}) {
  const { count, offset, size } = samples;
  let i = 0;
  while (i < count) {
    const start = offset[i];
    let end = start + size[i];
    let j = i + 1;
    while (j < count && offset[j] === end && end + size[j] - start <= chunkBytes) end += size[j++];
    const bytes = await readAt(blob, start, end);
    for (let k = i; k < j; k++) yield { index: k, data: bytes.subarray(offset[k] - start, offset[k] - start + size[k]) };
    i = j;
  }
}
