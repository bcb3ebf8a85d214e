//! Video decoding through the `ffprobe` and `ffmpeg` programs: the stream's geometry and frame
//! rate, then its frames as packed RGB24 on a pipe, one frame in memory at a time.
//!
//! What the reference (`vpdq/cpp/vpdq/cpp/hashing/ffmpegwrapper.cpp`, `filehasher.cpp`) does,
//! and how it is reproduced here:
//! - the first video stream (here: that is not a cover picture), its codec width and height,
//!   and `avg_frame_rate` (falling back to `r_frame_rate` when it is 0):
//!   `ffprobe -show_entries stream=...`;
//! - every decoded frame, numbered by decoding count: `-fps_mode passthrough`, so ffmpeg
//!   neither drops nor duplicates frames, and we count frames as they arrive;
//! - `sws_scale` to RGB24 at the codec size with `SWS_AREA`: `scale=W:H:flags=...` then
//!   `format=rgb24`, with the flags of [`scaler_flags`]; the explicit size also keeps every
//!   frame W x H if the stream changes size midway, so the pipe never loses frame alignment;
//! - no display-matrix rotation (the reference ignores it): `-noautorotate`.
//!
//! Decoding errors stop the run (`-xerror`), so a corrupt file is an error, not a silently
//! shorter hash; an MP4/MOV or Matroska/WebM file cut short is recognised before decoding
//! ([`cut_short`]). Only the `file` protocol is allowed, and paths are passed as `file:` URLs
//! so that a name like `concat:a|b` or `-x` is never taken for anything else.

use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};
use std::path::Path;
use std::process::{Child, ChildStdout, Command, Stdio};
use std::thread::JoinHandle;

use serde::Deserialize;

use crate::files::FileError;

/// How much of ffmpeg's error output is kept for messages.
const STDERR_TAIL_BYTES: usize = 4096;

/// The programs to run.
#[derive(Debug, Clone)]
pub struct Programs<'a> {
    pub ffmpeg: &'a Path,
    pub ffprobe: &'a Path,
}

/// The video stream the reference would hash.
#[derive(Debug, Clone, PartialEq)]
pub struct VideoStream {
    /// Absolute stream index in the file.
    pub index: u32,
    pub codec: String,
    /// The decoder's pixel format, e.g. `yuv420p`.
    pub pixel_format: String,
    pub width: u32,
    pub height: u32,
    /// Frames per second: `avg_frame_rate`, else `r_frame_rate`.
    pub frame_rate: f64,
    /// The frame count the container declares, if it does.
    pub declared_frames: Option<u64>,
}

#[derive(Deserialize)]
struct ProbeOutput {
    #[serde(default)]
    streams: Vec<ProbeStream>,
}

#[derive(Deserialize)]
struct ProbeStream {
    index: u32,
    #[serde(default)]
    codec_type: String,
    #[serde(default)]
    codec_name: String,
    #[serde(default)]
    pix_fmt: String,
    width: Option<u32>,
    height: Option<u32>,
    avg_frame_rate: Option<String>,
    r_frame_rate: Option<String>,
    nb_frames: Option<String>,
    #[serde(default)]
    disposition: Disposition,
}

#[derive(Deserialize, Default)]
struct Disposition {
    #[serde(default)]
    attached_pic: u8,
}

fn missing_program(program: &Path, e: &io::Error) -> FileError {
    if e.kind() == io::ErrorKind::NotFound {
        FileError::new(
            "ffmpeg_missing",
            format!(
                "{} not found: hash-video needs ffmpeg and ffprobe (Debian: apt-get install ffmpeg), or pass --ffmpeg and --ffprobe",
                program.display()
            ),
        )
    } else {
        FileError::new("io_error", format!("cannot run {}: {e}", program.display()))
    }
}

/// The `sws_flags` that reproduce the reference's RGB24 conversion of a `pixel_format` frame
/// `height` rows high, at the same size.
///
/// For 8-bit 4:2:0 and 4:2:2 frames of even height, libswscale (`ff_get_unscaled_swscale`)
/// skips its scaler and converts with the table-driven `yuv2rgb` routines: each chroma
/// sample reused for its 2x2 (or 2x1) pixels, full precision. On x86 it substitutes a SIMD
/// version of lower precision unless `accurate_rnd` is set. `neighbor+accurate_rnd` gives the
/// table-driven result on every CPU: it reproduces the reference sample hashes bit for bit
/// (docs/video.md). Other formats go through the scaler, where the reference's `SWS_AREA`
/// applies. `bitexact` keeps the scaler's SIMD paths equal to its C code.
pub fn scaler_flags(pixel_format: &str, height: u32) -> &'static str {
    let table_driven = matches!(
        pixel_format,
        "yuv420p" | "yuvj420p" | "yuv422p" | "yuvj422p" | "yuva420p"
    );
    if table_driven && height % 2 == 0 {
        "neighbor+accurate_rnd+bitexact"
    } else {
        "area+accurate_rnd+bitexact"
    }
}

/// The path as an ffmpeg `file:` URL.
fn file_url(path: &Path) -> String {
    format!("file:{}", path.display())
}

/// The last non-empty line of a program's error output.
fn last_line(stderr: &str) -> &str {
    stderr
        .lines()
        .rev()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .unwrap_or("no error message")
}

/// `num/den` as the reference computes it: a double division; `None` for 0 or a bad value.
pub fn parse_frame_rate(rate: &str) -> Option<f64> {
    let (num, den) = rate.split_once('/').unwrap_or((rate, "1"));
    let (num, den) = (num.parse::<u64>().ok()?, den.parse::<u64>().ok()?);
    let fps = num as f64 / den as f64;
    (den != 0 && fps > 0.0 && fps.is_finite()).then_some(fps)
}

/// Top-level box types an ISO base media file (MP4, MOV) starts with.
const FIRST_MEDIA_BOXES: [&[u8; 4]; 6] = [b"ftyp", b"moov", b"mdat", b"wide", b"free", b"skip"];

/// The EBML magic that starts a Matroska or WebM file.
const EBML_MAGIC: [u8; 4] = [0x1a, 0x45, 0xdf, 0xa3];

/// If `path` is an MP4/MOV or Matroska/WebM file whose structure declares more bytes than the
/// file has, i.e. a file cut short, says so. Other containers (MPEG-TS, ...) declare no
/// length; a cut one decodes to fewer frames, as with the reference.
pub fn cut_short(path: &Path) -> Option<String> {
    let mut file = File::open(path).ok()?;
    let len = file.metadata().ok()?.len();
    let mut magic = [0u8; 4];
    file.read_exact(&mut magic).ok()?;
    if magic == EBML_MAGIC {
        matroska_cut_short(&mut file, len)
    } else {
        iso_cut_short(&mut file, len)
    }
}

/// An EBML variable-length integer at the reader's position: (length in bytes, value with
/// the length marker removed, whether all value bits are set, i.e. "unknown size").
fn ebml_vint(file: &mut File) -> Option<(u64, u64, bool)> {
    let mut first = [0u8; 1];
    file.read_exact(&mut first).ok()?;
    let width = first[0].leading_zeros() + 1;
    if width > 8 {
        return None;
    }
    let mut value = u64::from(first[0]) & (0xff >> width);
    let mut rest = [0u8; 7];
    file.read_exact(&mut rest[..width as usize - 1]).ok()?;
    for b in &rest[..width as usize - 1] {
        value = value << 8 | u64::from(*b);
    }
    let unknown = value == (1u64 << (7 * width)) - 1;
    Some((u64::from(width), value, unknown))
}

/// The EBML header, then the Segment: its declared size against the file's length.
fn matroska_cut_short(file: &mut File, len: u64) -> Option<String> {
    let (width, header_size, _) = ebml_vint(file)?;
    let pos = (4 + width).checked_add(header_size)?;
    file.seek(SeekFrom::Start(pos)).ok()?;
    let mut id = [0u8; 4];
    file.read_exact(&mut id).ok()?;
    if id != [0x18, 0x53, 0x80, 0x67] {
        return None;
    }
    let (width, size, unknown) = ebml_vint(file)?;
    let end = (pos + 4 + width).checked_add(size)?;
    (!unknown && end > len).then(|| {
        format!(
            "the file is cut short: its Matroska segment needs {size} bytes, the file ends {} bytes into it",
            len.saturating_sub(pos + 4 + width)
        )
    })
}

/// Top-level boxes, each size against the file's length.
fn iso_cut_short(file: &mut File, len: u64) -> Option<String> {
    let mut pos = 0u64;
    // Top-level boxes are few; the bound only guards against a pathological file.
    for index in 0..100_000 {
        if pos.checked_add(8)? > len {
            return None;
        }
        let mut head = [0u8; 16];
        file.seek(SeekFrom::Start(pos)).ok()?;
        file.read_exact(&mut head[..8]).ok()?;
        let kind: [u8; 4] = head[4..8].try_into().ok()?;
        if index == 0 && !FIRST_MEDIA_BOXES.contains(&&kind) {
            return None;
        }
        let size = match u32::from_be_bytes(head[..4].try_into().ok()?) {
            // A last box that extends to the end of the file.
            0 => return None,
            1 => {
                file.read_exact(&mut head[8..]).ok()?;
                u64::from_be_bytes(head[8..].try_into().ok()?)
            }
            n => u64::from(n),
        };
        if size < 8 {
            return None;
        }
        let end = pos.checked_add(size)?;
        if end > len {
            return Some(format!(
                "the file is cut short: its '{}' box needs {} bytes, the file ends {} bytes into it",
                String::from_utf8_lossy(&kind),
                size,
                len - pos
            ));
        }
        pos = end;
    }
    None
}

/// Classifies why ffprobe could not read a file.
fn probe_error(stderr: &str) -> FileError {
    let line = last_line(stderr);
    if stderr.contains("Invalid data found when processing input") {
        FileError::new(
            "unsupported_format",
            format!("not a video ffmpeg can read (ffprobe: {line})"),
        )
    } else {
        FileError::new(
            "corrupt_video",
            format!("ffprobe cannot read the file: {line}"),
        )
    }
}

/// The first video stream of a file that is not a cover picture.
pub fn probe(programs: &Programs<'_>, path: &Path) -> Result<VideoStream, FileError> {
    let output = Command::new(programs.ffprobe)
        .args(["-v", "error", "-hide_banner", "-protocol_whitelist", "file"])
        .args([
            "-show_entries",
            "stream=index,codec_type,codec_name,pix_fmt,width,height,avg_frame_rate,r_frame_rate,nb_frames:stream_disposition=attached_pic",
            "-of",
            "json",
            "-i",
        ])
        .arg(file_url(path))
        .stdin(Stdio::null())
        .output()
        .map_err(|e| missing_program(programs.ffprobe, &e))?;
    let stderr = String::from_utf8_lossy(&output.stderr);
    if !output.status.success() {
        return Err(probe_error(&stderr));
    }
    let parsed: ProbeOutput = serde_json::from_slice(&output.stdout)
        .map_err(|e| FileError::new("io_error", format!("unexpected ffprobe output: {e}")))?;
    let Some(s) = parsed
        .streams
        .iter()
        .find(|s| s.codec_type == "video" && s.disposition.attached_pic == 0)
    else {
        let is_cover = |s: &&ProbeStream| s.disposition.attached_pic != 0;
        let mut kinds: Vec<&str> = Vec::new();
        for s in parsed.streams.iter().filter(|s| !is_cover(s)) {
            if !kinds.contains(&s.codec_type.as_str()) {
                kinds.push(&s.codec_type);
            }
        }
        let mut parts = Vec::new();
        if !kinds.is_empty() {
            parts.push(format!("only {} streams", kinds.join(", ")));
        }
        match parsed.streams.iter().filter(is_cover).count() {
            0 => {}
            1 => parts.push("a cover picture".to_string()),
            n => parts.push(format!("{n} cover pictures")),
        }
        let found = if parts.is_empty() {
            "no streams".to_string()
        } else {
            parts.join(" and ")
        };
        return Err(FileError::new(
            "no_video_stream",
            format!("no video stream: found {found}"),
        ));
    };
    let (width, height) = match (s.width, s.height) {
        (Some(w), Some(h)) if w > 0 && h > 0 => (w, h),
        (w, h) => {
            return Err(FileError::new(
                "corrupt_video",
                format!(
                    "the video stream has no frame size (width {}, height {})",
                    w.unwrap_or(0),
                    h.unwrap_or(0)
                ),
            ))
        }
    };
    let avg = s.avg_frame_rate.as_deref().unwrap_or("0/0");
    let real = s.r_frame_rate.as_deref().unwrap_or("0/0");
    let frame_rate = parse_frame_rate(avg)
        .or_else(|| parse_frame_rate(real))
        .ok_or_else(|| {
            FileError::new(
                "unknown_frame_rate",
                format!("the video stream has no frame rate (avg_frame_rate {avg}, r_frame_rate {real})"),
            )
        })?;
    Ok(VideoStream {
        index: s.index,
        codec: s.codec_name.clone(),
        pixel_format: s.pix_fmt.clone(),
        width,
        height,
        frame_rate,
        declared_frames: s.nb_frames.as_deref().and_then(|n| n.parse().ok()),
    })
}

/// A running ffmpeg that writes one stream's frames as packed RGB24 to a pipe.
pub struct FrameReader {
    child: Child,
    stdout: ChildStdout,
    stderr: Option<JoinHandle<String>>,
    frame_bytes: usize,
}

/// Keeps the last [`STDERR_TAIL_BYTES`] of a stream, reading it to the end.
fn tail(mut from: impl Read) -> String {
    let mut kept: Vec<u8> = Vec::new();
    let mut chunk = [0u8; 4096];
    while let Ok(n) = from.read(&mut chunk) {
        if n == 0 {
            break;
        }
        kept.extend_from_slice(&chunk[..n]);
        if kept.len() > 2 * STDERR_TAIL_BYTES {
            kept.drain(..kept.len() - STDERR_TAIL_BYTES);
        }
    }
    String::from_utf8_lossy(&kept).into_owned()
}

impl FrameReader {
    /// Starts decoding `stream` of `path`.
    pub fn spawn(
        programs: &Programs<'_>,
        path: &Path,
        stream: &VideoStream,
    ) -> Result<Self, FileError> {
        let frame_bytes = (stream.width as usize)
            .checked_mul(stream.height as usize)
            .and_then(|p| p.checked_mul(3))
            .ok_or_else(|| FileError::new("too_many_pixels", "frame size overflows memory"))?;
        let mut child = Command::new(programs.ffmpeg)
            .args(["-nostdin", "-hide_banner", "-v", "error", "-xerror"])
            .args(["-protocol_whitelist", "file", "-noautorotate", "-i"])
            .arg(file_url(path))
            .args(["-map", &format!("0:{}", stream.index)])
            .args(["-an", "-sn", "-dn", "-fps_mode", "passthrough", "-vf"])
            .arg(format!(
                "scale={}:{}:flags={},format=rgb24",
                stream.width,
                stream.height,
                scaler_flags(&stream.pixel_format, stream.height)
            ))
            .args(["-f", "rawvideo", "pipe:1"])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| missing_program(programs.ffmpeg, &e))?;
        let (Some(stdout), Some(stderr)) = (child.stdout.take(), child.stderr.take()) else {
            let _ = child.kill();
            let _ = child.wait();
            return Err(FileError::new("io_error", "cannot read ffmpeg's output"));
        };
        let stderr = std::thread::spawn(move || tail(stderr));
        Ok(FrameReader {
            child,
            stdout,
            stderr: Some(stderr),
            frame_bytes,
        })
    }

    /// Bytes of one frame.
    pub fn frame_bytes(&self) -> usize {
        self.frame_bytes
    }

    /// Fills `frame` (of [`frame_bytes`](Self::frame_bytes)) with the next frame; `false` at
    /// the end of the stream.
    pub fn next_frame(&mut self, frame: &mut [u8]) -> Result<bool, FileError> {
        let mut filled = 0;
        while filled < frame.len() {
            match self.stdout.read(&mut frame[filled..]) {
                Ok(0) => break,
                Ok(n) => filled += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    return Err(FileError::new(
                        "io_error",
                        format!("reading ffmpeg's output: {e}"),
                    ))
                }
            }
        }
        match filled {
            0 => Ok(false),
            n if n == frame.len() => Ok(true),
            n => Err(FileError::new(
                "corrupt_video",
                format!(
                    "ffmpeg's output ended inside a frame ({n} of {} bytes)",
                    frame.len()
                ),
            )),
        }
    }

    /// Waits for ffmpeg to exit; an error if it failed, with its last message.
    pub fn finish(mut self, frames_read: u64, declared: Option<u64>) -> Result<(), FileError> {
        let status = self
            .child
            .wait()
            .map_err(|e| FileError::new("io_error", format!("waiting for ffmpeg: {e}")))?;
        let stderr = self
            .stderr
            .take()
            .and_then(|h| h.join().ok())
            .unwrap_or_default();
        if status.success() {
            return Ok(());
        }
        let line = last_line(&stderr);
        let of = declared.map(|d| format!(" of {d}")).unwrap_or_default();
        Err(FileError::new(
            "corrupt_video",
            format!("decoding failed after {frames_read}{of} frames: {line}"),
        ))
    }
}

impl Drop for FrameReader {
    /// An abandoned decode (an error part way) must not leave ffmpeg running.
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frame_rates_parse_as_the_reference_divides_them() {
        assert_eq!(parse_frame_rate("30/1"), Some(30.0));
        assert_eq!(parse_frame_rate("30000/1001"), Some(30000.0 / 1001.0));
        assert_eq!(parse_frame_rate("25"), Some(25.0));
        for bad in ["0/0", "0/1", "1/0", "", "x/1", "-30/1"] {
            assert_eq!(parse_frame_rate(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn the_last_message_line_is_kept() {
        assert_eq!(last_line("a\nb: broken\n\n"), "b: broken");
        assert_eq!(last_line(""), "no error message");
    }
}
