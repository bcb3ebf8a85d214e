//! Straightening: a picture turned by a small angle on a canvas of one colour (an editor's
//! "rotate" with the corners filled, a tilted repost), found by the four triangles of fill at
//! the canvas's corners and turned back, so that a query can also be hashed upright:
//! [`pdq_straightened`] is the PDQ of the picture turned back, matched against PDQ entries like
//! the dihedral variants, the trimmed, the embedded and the captioned PDQ (`pdq-straightened`
//! in the registry). It is a query's hash, never stored; when no turn is found there is no value
//! (not a copy of plain PDQ).
//!
//! The rule, on PDQ's idea of grey (`(77 R + 150 G + 29 B) >> 8`, as `src/embedded.rs`):
//! - the four corner pixels are one colour, the fill (each within [`FLAT`] of the top left);
//! - at each corner the fill runs along both edges (its *legs*: at least [`MIN_LEG`] pixels,
//!   and short of the whole edge: a full edge of fill is a border, `src/trim.rs`'s case);
//! - each corner's fill is a triangle: halfway along its short leg, the fill reaches halfway
//!   along its long leg (within [`STRAIGHT_TOLERANCE_PER_MILLE`]‰ of that leg and a pixel);
//! - a turned rectangle leaves the long leg along the top edge at two opposite corners and along
//!   the side edges at the other two (which pair tells the direction), and the angle of each
//!   corner, atan(short leg / long leg), is the turn's: the four agree within
//!   [`AGREE_DEGREES`], and the angle of their mean tangent lies between [`MIN_DEGREES`] and
//!   [`MAX_DEGREES`];
//! - when the picture touches each edge at a point (the fill of two corners meets along the
//!   edge, up to [`TOUCH_PER_MILLE`]‰ of it), the canvas was grown to hold the turned
//!   picture, whose size follows from the canvas's and the angle; otherwise the canvas kept
//!   the picture's size and its corners were cut off.
//!
//! The picture is turned back by bilinear sampling of the grey levels (a point outside the
//! canvas takes the nearest edge's), on the image reduced by whole-pixel box averaging to at
//! most [`WORK_SIDE`] pixels a side (PDQ reduces it to 64 x 64 anyway), and hashed.
//!
//! Why these numbers, from what a turn is rather than from a benchmark: under a degree PDQ does
//! not need a turn taken back, and beyond 30 degrees a picture is more likely drawn at a
//! slant than turned; [`FLAT`] is `src/caption.rs`'s flat tolerance; a pixel of anti-aliasing on
//! each leg moves a corner's angle by well under a degree on legs of the lengths required. None
//! was tuned on the benchmark's images.
//!
//! Cost: the four edges and eight half-way runs of a plain photo (most stop at the first
//! corner); a turned one is reduced, turned back and hashed.

use crate::caption::grey_row;
use crate::embedded::luma;
use crate::pdq::{pdq_hash, PdqOutput};
use crate::pixels::{PixelFormat, PixelView};

/// The largest grey difference from the fill that is still fill.
pub const FLAT: u8 = 8;
/// How far in from the edges a corner's fill is followed.
pub const MARGIN: usize = 2;
/// The shortest leg of a corner's triangle of fill, in pixels.
pub const MIN_LEG: usize = 3;
/// How far, per mille of the long leg, the fill halfway along the short leg may end from
/// halfway along the long one (plus a pixel).
pub const STRAIGHT_TOLERANCE_PER_MILLE: usize = 150;
/// The four corners' angles agree within this many degrees.
pub const AGREE_DEGREES: f64 = 1.0;
/// The smallest turn taken back.
pub const MIN_DEGREES: f64 = 1.0;
/// The largest turn taken back.
pub const MAX_DEGREES: f64 = 30.0;
/// The picture touches an edge at a point when the rest of the edge, but this many per mille
/// of it, is fill.
pub const TOUCH_PER_MILLE: usize = 30;
/// The longest side the picture is turned back at.
pub const WORK_SIDE: usize = 1024;
/// Images under this many rows or columns are not straightened.
pub const MIN_DIMENSION: usize = 32;

/// A turn found: the angle in degrees (positive: the picture was turned counter-clockwise as
/// seen), its sine and cosine, the fill's grey level, and the size of the picture before it was
/// turned, in pixels of the image.
///
/// The sine and cosine come from the corners' mean tangent with a square root, not from a
/// library's `sin`/`cos`: `+ - * / sqrt` round the same everywhere, so the straightened PDQ is
/// the same bits natively and in wasm (`degrees`, by `atan`, is only reported).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Turn {
    pub degrees: f64,
    pub sin: f64,
    pub cos: f64,
    pub fill: u8,
    pub width: f64,
    pub height: f64,
}

/// tan 1°, tan 30°: [`MIN_DEGREES`], [`AGREE_DEGREES`] and [`MAX_DEGREES`] as tangents.
const TAN_1_DEGREE: f64 = 0.017_455_064_928_217_585;
const TAN_30_DEGREES: f64 = 0.577_350_269_189_625_7;

fn grey_at(view: &PixelView<'_>, x: usize, y: usize) -> u8 {
    let row = view.row(y);
    match view.format() {
        PixelFormat::Gray8 => row[x],
        PixelFormat::Rgb8 => luma(&row[x * 3..x * 3 + 3]),
        PixelFormat::Rgba8 => luma(&row[x * 4..x * 4 + 3]),
    }
}

/// How many pixels of fill, from the first of `points` on, come before anything else.
fn run(view: &PixelView<'_>, fill: u8, points: impl Iterator<Item = (usize, usize)>) -> usize {
    points
        .take_while(|&(x, y)| grey_at(view, x, y).abs_diff(fill) <= FLAT)
        .count()
}

/// One corner's triangle of fill: its legs along the top or bottom edge and along the side,
/// in pixels.
#[derive(Debug, Clone, Copy)]
struct Corner {
    along_row: f64,
    along_column: f64,
}

/// The triangle of fill at the corner (`right`, `bottom` say which), if the fill there is one.
///
/// The fill is followed along the row and the column [`MARGIN`] pixels in from the edges (on
/// the edge itself a picture that touches it at a point may leave no pixel), and the legs are
/// where the line through the two ends meets the edges.
fn corner(view: &PixelView<'_>, fill: u8, right: bool, bottom: bool) -> Option<Corner> {
    let (w, h) = (view.width() as usize, view.height() as usize);
    let x_at = move |i: usize| if right { w - 1 - i } else { i };
    let y_at = move |i: usize| if bottom { h - 1 - i } else { i };
    let a = run(view, fill, (0..w).map(|i| (x_at(i), y_at(MARGIN))));
    let b = run(view, fill, (0..h).map(|i| (x_at(MARGIN), y_at(i))));
    if a < MIN_LEG + MARGIN || b < MIN_LEG + MARGIN || a == w || b == h {
        return None;
    }
    let (af, bf, m) = (a as f64, b as f64, MARGIN as f64);
    let along_row = af + (af - m) * m / (bf - m);
    let along_column = bf + (bf - m) * m / (af - m);
    // A triangle: halfway along the short leg, the fill reaches halfway along the long one.
    let (long, short) = (along_row.max(along_column), along_row.min(along_column));
    let half = (short / 2.0) as usize;
    let reach = if along_row >= along_column {
        run(view, fill, (0..w).map(|i| (x_at(i), y_at(half))))
    } else {
        run(view, fill, (0..h).map(|i| (x_at(half), y_at(i))))
    };
    let expected = long * (1.0 - half as f64 / short);
    let tolerance = long * STRAIGHT_TOLERANCE_PER_MILLE as f64 / 1000.0 + 1.0;
    ((reach as f64 - expected).abs() <= tolerance).then_some(Corner {
        along_row,
        along_column,
    })
}

/// The turn of `view`'s picture on its canvas, or `None` when it is not a turned picture.
pub fn find_turn(view: &PixelView<'_>) -> Option<Turn> {
    let (w, h) = (view.width() as usize, view.height() as usize);
    if w < MIN_DIMENSION || h < MIN_DIMENSION {
        return None;
    }
    let fill = grey_at(view, 0, 0);
    let corners_flat = [(w - 1, 0), (0, h - 1), (w - 1, h - 1)]
        .iter()
        .all(|&(x, y)| grey_at(view, x, y).abs_diff(fill) <= FLAT);
    if !corners_flat {
        return None;
    }
    let top_left = corner(view, fill, false, false)?;
    let top_right = corner(view, fill, true, false)?;
    let bottom_right = corner(view, fill, true, true)?;
    let bottom_left = corner(view, fill, false, true)?;
    // Turned counter-clockwise (as seen), the long legs lie along the top and bottom edges at
    // the top left and bottom right, along the sides at the other two; clockwise the reverse.
    let row_long = |c: Corner| c.along_row > c.along_column;
    let counter_clockwise = row_long(top_left);
    let pattern = [
        (top_left, counter_clockwise),
        (top_right, !counter_clockwise),
        (bottom_right, counter_clockwise),
        (bottom_left, !counter_clockwise),
    ];
    if pattern.iter().any(|&(c, long_row)| row_long(c) != long_row) {
        return None;
    }
    // Each corner's tangent, short leg over long; the angles compared as tangents
    // (tan(a - b) = (tan a - tan b) / (1 + tan a tan b)).
    let tangents =
        pattern.map(|(c, _)| c.along_row.min(c.along_column) / c.along_row.max(c.along_column));
    let (low, high) = tangents
        .iter()
        .fold((f64::MAX, f64::MIN), |(l, h), &t| (l.min(t), h.max(t)));
    let tangent = tangents.iter().sum::<f64>() / 4.0;
    if (high - low) / (1.0 + high * low) > TAN_1_DEGREE
        || !(TAN_1_DEGREE..=TAN_30_DEGREES).contains(&tangent)
    {
        return None;
    }
    let c = 1.0 / (1.0 + tangent * tangent).sqrt();
    let s = tangent * c;
    // Grown canvas: the fill of the two corners of each edge meets but for a point.
    let touches = |a: f64, b: f64, len: usize| {
        (len as f64 - a - b) * 1000.0 <= (TOUCH_PER_MILLE * len) as f64
    };
    let grown = touches(top_left.along_row, top_right.along_row, w)
        && touches(bottom_left.along_row, bottom_right.along_row, w)
        && touches(top_left.along_column, bottom_left.along_column, h)
        && touches(top_right.along_column, bottom_right.along_column, h);
    let (wf, hf) = (w as f64, h as f64);
    let (width, height) = if grown {
        // W = w cos + h sin and H = w sin + h cos, solved for w and h.
        let d = c * c - s * s;
        ((wf * c - hf * s) / d, (hf * c - wf * s) / d)
    } else {
        (wf, hf)
    };
    if width < MIN_DIMENSION as f64 || height < MIN_DIMENSION as f64 {
        return None;
    }
    let degrees = tangent.atan().to_degrees();
    let sign = if counter_clockwise { 1.0 } else { -1.0 };
    Some(Turn {
        degrees: sign * degrees,
        sin: sign * s,
        cos: c,
        fill,
        width,
        height,
    })
}

/// `view`'s grey levels, each pixel the mean of a `k` x `k` block (the last partial blocks
/// dropped).
fn reduced_grey(view: &PixelView<'_>, k: usize) -> (Vec<u8>, usize, usize) {
    let (w, h) = (view.width() as usize / k, view.height() as usize / k);
    let mut sums = vec![0u32; w];
    let mut row = Vec::with_capacity(view.width() as usize);
    let mut out = Vec::with_capacity(w * h);
    for by in 0..h {
        sums.iter_mut().for_each(|s| *s = 0);
        for y in by * k..(by + 1) * k {
            grey_row(view, y, &mut row);
            for (sum, block) in sums.iter_mut().zip(row.chunks_exact(k)) {
                *sum += block.iter().map(|&v| u32::from(v)).sum::<u32>();
            }
        }
        let area = (k * k) as u32;
        out.extend(sums.iter().map(|&s| ((s + area / 2) / area) as u8));
    }
    (out, w, h)
}

/// The picture of `view` turned back by `turn`: grey levels, `width` x `height`.
pub fn turned_back(view: &PixelView<'_>, turn: &Turn) -> (Vec<u8>, usize, usize) {
    let longest = view.width().max(view.height()) as usize;
    let k = longest.div_ceil(WORK_SIDE).max(1);
    let (grey, gw, gh) = reduced_grey(view, k);
    let kf = k as f64;
    let (ow, oh) = (
        ((turn.width / kf).round() as usize).clamp(1, gw),
        ((turn.height / kf).round() as usize).clamp(1, gh),
    );
    // A point of the upright picture, from its centre, is where the turn took it on the canvas:
    // turned counter-clockwise as seen (y grows downwards) by the turn's angle.
    let (s, c) = (turn.sin, turn.cos);
    let (cx, cy) = (gw as f64 / 2.0, gh as f64 / 2.0);
    let (ocx, ocy) = (ow as f64 / 2.0, oh as f64 / 2.0);
    let at = |x: isize, y: isize| -> f64 {
        let x = x.clamp(0, gw as isize - 1) as usize;
        let y = y.clamp(0, gh as isize - 1) as usize;
        f64::from(grey[y * gw + x])
    };
    let mut out = Vec::with_capacity(ow * oh);
    for v in 0..oh {
        let py = v as f64 + 0.5 - ocy;
        for u in 0..ow {
            let px = u as f64 + 0.5 - ocx;
            let sx = cx + px * c + py * s - 0.5;
            let sy = cy - px * s + py * c - 0.5;
            let (x0, y0) = (sx.floor(), sy.floor());
            let (fx, fy) = (sx - x0, sy - y0);
            let (x0, y0) = (x0 as isize, y0 as isize);
            let top = at(x0, y0) * (1.0 - fx) + at(x0 + 1, y0) * fx;
            let bottom = at(x0, y0 + 1) * (1.0 - fx) + at(x0 + 1, y0 + 1) * fx;
            out.push((top * (1.0 - fy) + bottom * fy).round() as u8);
        }
    }
    (out, ow, oh)
}

/// PDQ of `view`'s picture turned back upright, or `None` when it is not a turned picture.
pub fn pdq_straightened(view: &PixelView<'_>) -> Option<PdqOutput> {
    let turn = find_turn(view)?;
    let (grey, w, h) = turned_back(view, &turn);
    let upright = PixelView::packed(&grey, w as u32, h as u32, PixelFormat::Gray8).ok()?;
    Some(pdq_hash(&upright))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::xorshift32;

    /// A deterministic picture with broad shapes and some texture (w x h RGB), never near black.
    fn picture(w: usize, h: usize) -> Vec<u8> {
        let mut next = xorshift32(0x51ed_270b);
        let mut out = Vec::with_capacity(w * h * 3);
        for y in 0..h {
            for x in 0..w {
                let wave = ((x as f64 / 37.0).sin() * 50.0 + (y as f64 / 23.0).cos() * 40.0) as i32;
                let block = if (x * 3 / w + y * 2 / h) % 2 == 0 {
                    60
                } else {
                    0
                };
                let v = (120 + wave + block + (next() >> 28) as i32).clamp(40, 250) as u8;
                out.extend([v, v - 30, v / 2 + 60]);
            }
        }
        out
    }

    /// `rgb` (w x h) turned counter-clockwise as seen by `degrees` (nearest pixel), on a canvas
    /// of `fill` grown to hold it or of the same size.
    fn turn(
        rgb: &[u8],
        w: usize,
        h: usize,
        degrees: f64,
        grow: bool,
        fill: u8,
    ) -> (Vec<u8>, usize, usize) {
        let (s, c) = degrees.to_radians().sin_cos();
        let (cw, ch) = if grow {
            let a = s.abs();
            (
                (w as f64 * c + h as f64 * a).ceil() as usize,
                (w as f64 * a + h as f64 * c).ceil() as usize,
            )
        } else {
            (w, h)
        };
        let mut out = vec![fill; cw * ch * 3];
        for y in 0..ch {
            for x in 0..cw {
                let (px, py) = (
                    x as f64 + 0.5 - cw as f64 / 2.0,
                    y as f64 + 0.5 - ch as f64 / 2.0,
                );
                // The canvas point came from the picture turned back (clockwise as seen).
                let sx = px * c - py * s + w as f64 / 2.0;
                let sy = px * s + py * c + h as f64 / 2.0;
                if sx >= 0.0 && sy >= 0.0 && (sx as usize) < w && (sy as usize) < h {
                    let i = (sy as usize * w + sx as usize) * 3;
                    out[(y * cw + x) * 3..][..3].copy_from_slice(&rgb[i..i + 3]);
                }
            }
        }
        (out, cw, ch)
    }

    fn view(rgb: &[u8], w: usize, h: usize) -> PixelView<'_> {
        PixelView::packed(rgb, w as u32, h as u32, PixelFormat::Rgb8).unwrap()
    }

    #[test]
    fn finds_turns_both_ways_on_grown_and_kept_canvases() {
        let (w, h) = (480, 320);
        let rgb = picture(w, h);
        for degrees in [5.0, -5.0, 12.0, -3.0] {
            for grow in [true, false] {
                for fill in [0, 255] {
                    let (t, tw, th) = turn(&rgb, w, h, degrees, grow, fill);
                    let found = find_turn(&view(&t, tw, th))
                        .unwrap_or_else(|| panic!("{degrees} grow {grow} fill {fill}: no turn"));
                    assert!(
                        (found.degrees - degrees).abs() < 0.5,
                        "{degrees} {grow}: {found:?}"
                    );
                    assert_eq!(found.fill, fill);
                    let (ew, eh) = if grow {
                        (w as f64, h as f64)
                    } else {
                        (tw as f64, th as f64)
                    };
                    assert!(
                        (found.width - ew).abs() < 8.0 && (found.height - eh).abs() < 8.0,
                        "{found:?}"
                    );
                }
            }
        }
    }

    #[test]
    fn the_tangent_bounds_are_the_degree_bounds() {
        let tan = |d: f64| d.to_radians().tan();
        assert!((TAN_1_DEGREE - tan(MIN_DEGREES)).abs() < 1e-15);
        assert!((TAN_1_DEGREE - tan(AGREE_DEGREES)).abs() < 1e-15);
        assert!((TAN_30_DEGREES - tan(MAX_DEGREES)).abs() < 1e-15);
        // The sine and cosine from the tangent are the angle's.
        let (s, c) = 5f64.to_radians().sin_cos();
        let t = tan(5.0);
        assert!((1.0 / (1.0 + t * t).sqrt() - c).abs() < 1e-15);
        assert!((t / (1.0 + t * t).sqrt() - s).abs() < 1e-15);
    }

    #[test]
    fn the_picture_turned_back_hashes_near_the_original() {
        let (w, h) = (480, 320);
        let rgb = picture(w, h);
        let original = pdq_hash(&view(&rgb, w, h)).hash;
        for (degrees, grow) in [(5.0, true), (-7.0, true), (5.0, false)] {
            let (t, tw, th) = turn(&rgb, w, h, degrees, grow, 0);
            let turned = pdq_hash(&view(&t, tw, th)).hash;
            let straightened = pdq_straightened(&view(&t, tw, th)).unwrap().hash;
            let (before, after) = (original.distance(&turned), original.distance(&straightened));
            assert!(
                after <= 31 && after < before,
                "{degrees} {grow}: {before} -> {after}"
            );
        }
    }

    #[test]
    fn upright_pictures_borders_and_flat_images_have_no_turn() {
        let (w, h) = (480, 320);
        let rgb = picture(w, h);
        assert_eq!(find_turn(&view(&rgb, w, h)), None);
        // A letterbox: the fill runs along whole edges.
        let mut boxed = vec![0u8; w * (h + 80) * 3];
        boxed[w * 40 * 3..w * (h + 40) * 3].copy_from_slice(&rgb);
        assert_eq!(find_turn(&view(&boxed, w, h + 80)), None);
        // One colour everywhere.
        assert_eq!(find_turn(&view(&vec![0u8; w * h * 3], w, h)), None);
        // Black corners that are not triangles (a vignette of squares).
        let mut squares = rgb.clone();
        for (x0, y0) in [(0, 0), (w - 40, 0), (0, h - 40), (w - 40, h - 40)] {
            for y in y0..y0 + 40 {
                squares[(y * w + x0) * 3..(y * w + x0 + 40) * 3].fill(0);
            }
        }
        assert_eq!(find_turn(&view(&squares, w, h)), None);
        // Too small, or turned by less than a degree.
        assert_eq!(find_turn(&view(&rgb[..16 * 16 * 3], 16, 16)), None);
        let (t, tw, th) = turn(&rgb, w, h, 0.5, true, 0);
        assert_eq!(find_turn(&view(&t, tw, th)), None);
    }
}
