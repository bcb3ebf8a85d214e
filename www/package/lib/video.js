// One video hashing job (vPDQ), in the worker or inline in a browser: the MP4/MOV index is read
// (lib/mp4.js), the file's MD5 and SHA-256 computed while it is read in chunks, then every frame
// is decoded in order by WebCodecs' VideoDecoder and counted; the frames the wasm VpdqHasher
// selects (`n % int(secondsPerHash * fps) == 0`, as the reference and the CLI) are converted to
// RGB and hashed, the others closed at once (frameConverter: how a frame's pixels reach the wasm
// module). Memory stays bounded: the index, one read range of a few megabytes, at most
// MAX_DECODE_QUEUE chunks in the decoder and the frames it has decoded but not yet handed over
// (frames waiting for conversion are converted before the next chunk is fed).
import { PixelprintError, AbortedError, DEFAULT_MAX_PIXELS } from './core.js';
import { readMovie, readSamples, DEFAULT_MAX_FRAMES } from './mp4.js';

export const DEFAULT_SECONDS_PER_HASH = 1;
const MAX_DECODE_QUEUE = 8;
/** A decoder that neither takes input nor gives a frame for this long is given up on. */
const STALL_MS = 30_000;
const PROGRESS_INTERVAL_MS = 100;
const KNOWN_OPTIONS = ['secondsPerHash', 'maxPixels', 'maxFrames', 'digests', 'conversion'];

function now() {
  return globalThis.performance?.now() ?? Date.now();
}

/** Whether this environment has what the video hasher needs. */
export function canHashVideo() {
  return typeof VideoDecoder === 'function' && typeof EncodedVideoChunk === 'function' && typeof OffscreenCanvas === 'function';
}

function checkOptions(options) {
  const unknown = Object.keys(options ?? {}).filter((k) => !KNOWN_OPTIONS.includes(k));
  if (unknown.length) {
    throw new PixelprintError('invalid_option', `unknown option ${JSON.stringify(unknown[0])}: expected ${KNOWN_OPTIONS.join(', ')}, signal or onProgress`);
  }
  const {
    secondsPerHash = DEFAULT_SECONDS_PER_HASH, maxPixels = DEFAULT_MAX_PIXELS, maxFrames = DEFAULT_MAX_FRAMES,
    digests = true, conversion = 'auto',
  } = options ?? {};
  for (const [name, value, min] of [['secondsPerHash', secondsPerHash, 0], ['maxPixels', maxPixels, 1], ['maxFrames', maxFrames, 1]]) {
    if (typeof value !== 'number' || !Number.isFinite(value) || value < min) {
      throw new PixelprintError('invalid_option', `${name} must be a finite number >= ${min}, found ${value}`);
    }
  }
  if (typeof digests !== 'boolean') throw new PixelprintError('invalid_option', `digests must be true or false, found ${digests}`);
  if (conversion !== 'auto' && conversion !== 'browser') {
    throw new PixelprintError('invalid_option', `conversion must be "auto" or "browser", found ${JSON.stringify(conversion)}`);
  }
  return { secondsPerHash, maxPixels, maxFrames, digests, conversion };
}

function asBlob(input) {
  if (typeof Blob !== 'undefined' && input instanceof Blob) return input;
  if (input instanceof ArrayBuffer || ArrayBuffer.isView(input)) return new Blob([input]);
  throw new PixelprintError('invalid_input', 'expected a File, Blob, ArrayBuffer or Uint8Array');
}

/** MD5 and SHA-256 of the Blob's bytes, read in chunks into the wasm DigestStream. */
async function digestsOf(wasm, blob, { onBytes, isCancelled }) {
  const stream = new wasm.DigestStream();
  const reader = blob.stream().getReader();
  let read = 0;
  try {
    for (;;) {
      if (isCancelled()) throw new AbortedError();
      const { done, value } = await reader.read();
      if (done) break;
      stream.update(value);
      read += value.length;
      onBytes(read);
    }
  } catch (err) {
    stream.free();
    throw err;
  } finally {
    reader.releaseLock();
  }
  const { md5, sha256 } = stream.finish();
  return { md5, sha256 };
}

/**
 * The matrix FFmpeg's scale filter converts a frame of H.273 matrix code `code` with
 * (libavfilter/vf_scale.c parse_yuv_type): BT.709, FCC, SMPTE 240M, BT.2020, and BT.601 for
 * every other code, unspecified included.
 */
function ffmpegMatrix(code) {
  return { 1: 'bt709', 4: 'fcc', 7: 'smpte240m', 9: 'bt2020', 10: 'bt2020' }[code] ?? 'bt601';
}

/** The wasm module's matrix names as WebCodecs names them (it has none for FCC and SMPTE 240M). */
const WEBCODECS_MATRICES = { bt709: 'bt709', bt601: 'smpte170m', bt2020: 'bt2020-ncl' };

/**
 * The decoder's colour space: the file's, as FFmpeg reads it. Without it Chromium takes an H.264
 * stream that does not say for BT.709, FFmpeg for BT.601; the browser's own conversion (frames the
 * wasm module does not convert) then differs from the CLI's by up to 40 bits on saturated colours
 * instead of a few.
 */
function decoderColorSpace(fileColour) {
  const matrix = fileColour && WEBCODECS_MATRICES[ffmpegMatrix(fileColour.matrix)];
  return matrix ? { matrix, fullRange: fileColour.fullRange } : null;
}

/** WebCodecs' matrix names (VideoColorSpace.matrix), for streams whose file does not say. */
const BROWSER_MATRICES = { bt709: 'bt709', bt470bg: 'bt601', smpte170m: 'bt601', 'bt2020-ncl': 'bt2020', rgb: 'bt601' };

/**
 * The matrix and range to convert a frame with: the file's signalling as FFmpeg reads it
 * (mp4.js colourOf), else what the browser reports for the frame. Chromium reports BT.709 for
 * an H.264 stream that does not say, where FFmpeg (and so the CLI and the reference) use BT.601.
 */
function frameColour(fileColour, frame) {
  if (fileColour) return { matrix: ffmpegMatrix(fileColour.matrix), fullRange: fileColour.fullRange };
  const reported = frame.colorSpace ?? {};
  return { matrix: BROWSER_MATRICES[reported.matrix] ?? 'bt601', fullRange: !!reported.fullRange };
}

/**
 * How a decoded frame is given to the wasm hasher. 8-bit 4:2:0 and 4:2:2 frames of even size
 * (what H.264 and most other video is) go as their YUV planes, converted in wasm exactly as
 * libswscale converts them for the CLI: the hashes then equal the CLI's. Other frames (4:4:4,
 * 10-bit, odd sizes, frames of another size than the first, GPU-only frames) are drawn by the
 * browser, whose conversion differs slightly (docs/video.md: the tolerance).
 */
function frameConverter(width, height, fileColour, onlyBrowser) {
  let canvas = null;
  let ctx = null;
  let buffer = null;
  const drawn = (frame) => {
    if (!ctx) {
      canvas = new OffscreenCanvas(width, height);
      ctx = canvas.getContext('2d', { willReadFrequently: true, alpha: false });
    }
    const r = frame.visibleRect;
    ctx.drawImage(frame, r.x, r.y, r.width, r.height, 0, 0, width, height);
    return { kind: 'browser', rgba: ctx.getImageData(0, 0, width, height).data };
  };
  return async (frame) => {
    const r = frame.visibleRect;
    const exact = !onlyBrowser && width % 2 === 0 && height % 2 === 0 && r.x % 2 === 0 && r.y % 2 === 0 &&
      r.width === width && r.height === height;
    const plan = exact ? planeLayout(frame.format, width, height) : null;
    if (!plan) return drawn(frame);
    if (!buffer || buffer.length !== plan.bytes) buffer = new Uint8Array(plan.bytes);
    await frame.copyTo(buffer, { rect: { x: r.x, y: r.y, width, height }, layout: plan.layout });
    return { kind: 'yuv', yuv: buffer.subarray(0, plan.used), layout: plan.name, ...frameColour(fileColour, frame) };
  };
}

/** The tightly packed plane layout to copy a frame of `format` into, or null for other formats. */
function planeLayout(format, width, height) {
  const luma = width * height;
  const half = width / 2;
  switch (format) {
    case 'I420':
    case 'I420A': {
      const chroma = half * (height / 2);
      const layout = [{ offset: 0, stride: width }, { offset: luma, stride: half }, { offset: luma + chroma, stride: half }];
      const used = luma + 2 * chroma;
      // The alpha plane, copied because copyTo wants every plane, is not used (RGB24 has none).
      if (format === 'I420A') layout.push({ offset: used, stride: width });
      return { name: 'I420', layout, used, bytes: format === 'I420A' ? used + luma : used };
    }
    case 'I422': {
      const chroma = half * height;
      const used = luma + 2 * chroma;
      return { name: 'I422', layout: [{ offset: 0, stride: width }, { offset: luma, stride: half }, { offset: luma + chroma, stride: half }], used, bytes: used };
    }
    case 'NV12': {
      const used = luma + width * (height / 2);
      return { name: 'NV12', layout: [{ offset: 0, stride: width }, { offset: luma, stride: width }], used, bytes: used };
    }
    default:
      return null;
  }
}

function decodeError(err, decoded, expected) {
  if (err instanceof PixelprintError || err instanceof AbortedError) return err;
  return new PixelprintError('corrupt_video', `decoding failed after ${decoded} of ${expected} frames: ${err?.message ?? err}`);
}

/**
 * Hashes one video with the initialised wasm module `wasm` ({VpdqHasher, DigestStream}).
 * `options`: {secondsPerHash, maxPixels, maxFrames, digests}. Resolves to
 * {width, height, codec, frameRate, frames, secondsPerHash, md5, sha256, vpdq: [{frame,
 * timestamp, hash, quality}], decodedBy, timings}.
 */
export async function hashVideoJob(wasm, input, options, { onProgress = () => {}, isCancelled = () => false } = {}) {
  const start = now();
  const { secondsPerHash, maxPixels, maxFrames, digests, conversion } = checkOptions(options);
  const blob = asBlob(input);
  if (!canHashVideo()) {
    throw new PixelprintError('unsupported_environment', 'this environment has no WebCodecs VideoDecoder: hash videos in a browser, or with the CLI (pixelprint hash-video)');
  }
  const movie = await readMovie(blob, { maxFrames });
  const { samples } = movie;
  if (movie.width * movie.height > maxPixels) {
    throw new PixelprintError('too_many_pixels', `frames of ${movie.width}x${movie.height} pixels exceed the limit of ${maxPixels} pixels`);
  }
  const config = { codec: movie.codec, codedWidth: movie.width, codedHeight: movie.height, description: movie.description };
  const colorSpace = decoderColorSpace(movie.colour);
  if (colorSpace) config.colorSpace = colorSpace;
  const support = await VideoDecoder.isConfigSupported(config).catch(() => ({ supported: false }));
  if (!support.supported) {
    throw new PixelprintError('unsupported_codec', `this browser cannot decode ${movie.codec} video of ${movie.width}x${movie.height}; the CLI may`);
  }
  const indexMs = now() - start;
  let expected = samples.count;
  if (movie.window) {
    expected = 0;
    for (const t of samples.cts) if (t >= movie.window.start && t < movie.window.end) expected++;
  }

  const progress = { stage: 'digest', bytesRead: 0, totalBytes: blob.size, framesDone: 0, framesExpected: expected };
  let lastProgress = 0;
  const report = (force) => {
    const t = now();
    if (force || t - lastProgress >= PROGRESS_INTERVAL_MS) {
      lastProgress = t;
      onProgress({ ...progress });
    }
  };
  report(true);
  const digestStart = now();
  const sums = digests
    ? await digestsOf(wasm, blob, { onBytes: (n) => { progress.bytesRead = n; report(false); }, isCancelled })
    : {};
  const digestMs = now() - digestStart;

  progress.stage = 'frames';
  report(true);
  const decodeStart = now();
  const hasher = new wasm.VpdqHasher(movie.frameRate, secondsPerHash);
  const vpdq = [];
  const conversions = { yuv: 0, browser: 0 };
  const ready = [];
  let decoded = 0;
  let failure = null;
  let width = 0;
  let height = 0;
  let convert = null;
  let wake = null;
  const notify = () => {
    const w = wake;
    wake = null;
    w?.();
  };
  const decoder = new VideoDecoder({
    output(frame) {
      // Frames outside the edit list's window are decoded (later frames refer to them) but not
      // counted, as FFmpeg drops them. Chunk timestamps are the composition times in ticks.
      if (movie.window && (frame.timestamp < movie.window.start || frame.timestamp >= movie.window.end)) {
        frame.close();
        return;
      }
      const n = decoded++;
      if (failure || !hasher.wants(n)) frame.close();
      else ready.push({ n, frame });
      notify();
    },
    error(err) {
      failure ??= decodeError(err, decoded, expected);
      notify();
    },
  });
  decoder.addEventListener('dequeue', notify);
  // Resolves on the next output, dequeue or error; rejects when the decoder stalls.
  const nextEvent = () => new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new PixelprintError('decode_stalled', `the decoder gave no frame for ${STALL_MS / 1000} s after ${decoded} of ${expected} frames`)), STALL_MS);
    wake = () => {
      clearTimeout(timer);
      resolve();
    };
  });
  const drain = async () => {
    while (ready.length) {
      if (isCancelled()) throw new AbortedError();
      const { n, frame } = ready.shift();
      let pixels;
      try {
        if (!convert) {
          width = frame.visibleRect.width;
          height = frame.visibleRect.height;
          if (width * height > maxPixels) {
            throw new PixelprintError('too_many_pixels', `frames of ${width}x${height} pixels exceed the limit of ${maxPixels} pixels`);
          }
          convert = frameConverter(width, height, movie.colour, conversion === 'browser');
        }
        pixels = await convert(frame);
      } finally {
        frame.close();
      }
      conversions[pixels.kind]++;
      const feature = pixels.kind === 'yuv'
        ? hasher.pushYuv(n, pixels.yuv, pixels.layout, width, height, pixels.matrix, pixels.fullRange)
        : hasher.pushRgba(n, pixels.rgba, width, height);
      if (feature) vpdq.push(feature);
    }
    progress.framesDone = decoded;
    report(false);
  };
  const check = () => {
    if (isCancelled()) throw new AbortedError();
    if (failure) throw failure;
  };

  try {
    decoder.configure(config);
    for await (const { index, data } of readSamples(blob, samples)) {
      // drain() returns with no frame waiting; the decoder then holds at most MAX_DECODE_QUEUE
      // chunks and the frames it reorders, which come out as it is fed.
      for (;;) {
        await drain();
        check();
        if (decoder.decodeQueueSize < MAX_DECODE_QUEUE) break;
        await nextEvent();
      }
      decoder.decode(new EncodedVideoChunk({
        type: samples.key[index] ? 'key' : 'delta',
        // In ticks of the track's timescale, not microseconds: the decoder only passes them on.
        timestamp: samples.cts[index],
        data,
      }));
    }
    let flushed = false;
    decoder.flush().then(() => {
      flushed = true;
      notify();
    }, (err) => {
      failure ??= decodeError(err, decoded, expected);
      notify();
    });
    for (;;) {
      await drain();
      check();
      if (flushed && !ready.length) break;
      await nextEvent();
    }
  } catch (err) {
    throw decodeError(err, decoded, expected);
  } finally {
    for (const { frame } of ready.splice(0)) frame.close();
    if (decoder.state !== 'closed') decoder.close();
    hasher.free();
  }
  if (decoded === 0) throw new PixelprintError('no_frames', 'the video track decoded to no frame');
  progress.stage = 'done';
  progress.framesDone = decoded;
  report(true);
  const decodeMs = now() - decodeStart;
  return {
    width,
    height,
    codec: movie.codec,
    frameRate: movie.frameRate,
    frames: decoded,
    secondsPerHash,
    ...sums,
    vpdq,
    decodedBy: 'webcodecs',
    // 'exact': every hashed frame converted to RGB as the CLI converts it; 'browser': by the
    // browser's drawing; 'mixed': some of each.
    conversion: conversions.browser === 0 ? 'exact' : conversions.yuv === 0 ? 'browser' : 'mixed',
    timings: { indexMs, digestMs, decodeMs, totalMs: now() - start },
  };
}

