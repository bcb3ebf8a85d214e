//! The YUV to RGB conversion against FFmpeg itself (natively): synthetic 4:2:0 and 4:2:2 frames
//! covering every U value with every luma value, converted by ffmpeg with `pixelprint
//! hash-video`'s flags for every matrix it knows and both ranges, must come out byte for byte as
//! `YuvToRgb` converts them. Needs the `ffmpeg` program: without it the test is skipped with a
//! message, except when `CI` is set (scripts/bootstrap.sh installs it there), where it fails.

use std::io::Write;
use std::process::{Command, Stdio};

use pixelprint::video::{ChromaLayout, YuvMatrix, YuvToRgb};

use crate::report;

const WIDTH: usize = 512;
const HEIGHT: usize = 256;

/// Y = (x + 3y) mod 256; U = the chroma column; V = (2 * chroma row + 7 * chroma column) mod 256.
fn frame(layout: ChromaLayout) -> Vec<u8> {
    let chroma_rows = if layout == ChromaLayout::I422 {
        HEIGHT
    } else {
        HEIGHT / 2
    };
    let cw = WIDTH / 2;
    let mut out: Vec<u8> = (0..WIDTH * HEIGHT)
        .map(|i| ((i % WIDTH + 3 * (i / WIDTH)) % 256) as u8)
        .collect();
    out.extend((0..cw * chroma_rows).map(|i| (i % cw % 256) as u8));
    out.extend((0..cw * chroma_rows).map(|i| ((2 * (i / cw) + 7 * (i % cw)) % 256) as u8));
    out
}

fn ffmpeg_rgb(yuv: &[u8], pix_fmt: &str, colorspace: Option<&str>, range: &str) -> Vec<u8> {
    let params = match colorspace {
        Some(cs) => format!("setparams=colorspace={cs}:range={range}"),
        None => format!("setparams=range={range}"),
    };
    let filter = format!(
        "{params},scale={WIDTH}:{HEIGHT}:flags=neighbor+accurate_rnd+bitexact,format=rgb24"
    );
    let size = format!("{WIDTH}x{HEIGHT}");
    let args = [
        "-v", "error", "-f", "rawvideo", "-pix_fmt", pix_fmt, "-s", &size, "-i", "pipe:0", "-vf",
        &filter, "-f", "rawvideo", "pipe:1",
    ];
    let mut child = Command::new("ffmpeg")
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("ffmpeg runs");
    let mut stdin = child.stdin.take().unwrap();
    let input = yuv.to_vec();
    let writer = std::thread::spawn(move || stdin.write_all(&input));
    let out = child.wait_with_output().unwrap();
    writer.join().unwrap().unwrap();
    assert!(
        out.status.success(),
        "ffmpeg: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

/// Whether ffmpeg can run; a failure in CI if not.
fn have_ffmpeg() -> bool {
    if Command::new("ffmpeg").arg("-version").output().is_ok() {
        return true;
    }
    assert!(
        std::env::var_os("CI").is_none(),
        "ffmpeg is required in CI (scripts/bootstrap.sh installs it)"
    );
    report!("yuv: skipped, ffmpeg not found (install ffmpeg to run it)");
    false
}

#[test]
fn yuv_to_rgb_equals_ffmpeg_for_every_matrix_and_range() {
    if !have_ffmpeg() {
        return;
    }
    let matrices = [
        (None, YuvMatrix::Bt601),
        (Some("smpte170m"), YuvMatrix::Bt601),
        (Some("bt470bg"), YuvMatrix::Bt601),
        (Some("bt709"), YuvMatrix::Bt709),
        (Some("fcc"), YuvMatrix::Fcc),
        (Some("smpte240m"), YuvMatrix::Smpte240m),
        (Some("bt2020nc"), YuvMatrix::Bt2020),
    ];
    let mut compared = 0;
    for (layout, pix_fmt) in [
        (ChromaLayout::I420, "yuv420p"),
        (ChromaLayout::I422, "yuv422p"),
    ] {
        let yuv = frame(layout);
        for (name, matrix) in matrices {
            for (range, full) in [("tv", false), ("pc", true)] {
                let want = ffmpeg_rgb(&yuv, pix_fmt, name, range);
                let mut got = Vec::new();
                YuvToRgb::new(matrix, full)
                    .convert(&yuv, layout, WIDTH as u32, HEIGHT as u32, &mut got)
                    .unwrap();
                let differing = got.iter().zip(&want).filter(|(a, b)| a != b).count();
                assert_eq!(
                    (got.len(), differing),
                    (want.len(), 0),
                    "{pix_fmt} colorspace={} range={range}",
                    name.unwrap_or("unspecified")
                );
                compared += 1;
            }
        }
    }
    report!("yuv: {compared} conversions of {WIDTH}x{HEIGHT} frames (4:2:0, 4:2:2; 7 colour spaces; tv and pc range) equal ffmpeg's byte for byte");
}
