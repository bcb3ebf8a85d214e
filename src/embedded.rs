//! The largest picture embedded in a screenshot-like frame (a photo shown on a web page or in
//! an app, among title bars, side bars and lines of text), found and cut out so that a query
//! can also be hashed as that picture alone: [`pdq_embedded`] is the PDQ of the picture, matched
//! against PDQ entries like the dihedral variants and the trimmed PDQ (`pdq-embedded` in the
//! registry). It is a query's hash, never stored; when nothing picture-like is found there is
//! no value (not a copy of plain PDQ).
//!
//! Why our own code: the crates that find rectangles (`imageproc`'s Hough lines and contours,
//! OpenCV bindings) find lines or blobs, not "a textured rectangle whose outside is flat", they
//! bring float arithmetic and sizeable dependencies into a wasm module, and none answers the
//! question asked here. The rule below is a few integer passes over a grey image.
//!
//! The rule, on a grey image (`(77 R + 150 G + 29 B) >> 8`, alpha ignored as PDQ ignores it):
//! - a **side** of a picture is a straight line (row or column) where the picture meets a flat
//!   surround: at a position along it, the outside pixels at [`OUTSIDE_NEAR`] and
//!   [`OUTSIDE_FAR`] lines out are within [`FLAT`] of each other and of their neighbour along
//!   the line (a flat surround, a JPEG's ringing next to the edge skipped), and the picture's
//!   own outermost pixel differs from the near outside one by at least [`STEP`];
//! - a line is a **candidate** side when such positions form a run (gaps of at most [`GAP`]
//!   positions bridged) at least [`MIN_RUN_DIV`]th of the image's extent along it (of two
//!   adjacent lines with runs alike, the outer one); the image's own border is a candidate for
//!   every side too; at most [`MAX_CANDIDATES`] per side, the longest runs;
//! - a **rectangle** of candidate sides is a picture when it is at least a [`MIN_SIZE_DIV`]th of
//!   each dimension (and [`MIN_PICTURE`] pixels), at least two of its sides are not the image's
//!   border, on each such side at least [`MIN_EDGE_PER_MILLE`]‰ of the positions between the
//!   other two sides are side positions (and [`MIN_END_PER_MILLE`]‰ of each end, the first
//!   and last [`END_DIV`]th: the corners are where the runs end), and no row or column across
//!   it is of the surround's colour (see [`UNIFORM_PER_MILLE`]): such a rectangle holds a
//!   picture and a text bar under it, or two pictures;
//! - of the pictures, the one with the most sides off the image's border is taken, then the
//!   largest.
//!
//! The constants were chosen on the accuracy benchmark's `screenshot` edit
//! (`bench/accuracy/images.py`), so its recall there is in-sample.

use crate::pdq::{pdq_hash, PdqOutput};
use crate::pixels::{PixelFormat, PixelView};

/// The smallest grey difference between a picture's outermost pixel and the surround.
pub const STEP: u8 = 8;
/// The largest grey difference within the flat surround (and along it).
pub const FLAT: u8 = 6;
/// The outside pixels compared, this many and ...
pub const OUTSIDE_NEAR: usize = 2;
/// ... this many lines out from the picture's outermost line.
pub const OUTSIDE_FAR: usize = 3;
/// Non-side positions bridged within a run of side positions.
pub const GAP: usize = 8;
/// A candidate side has a run of at least 1/this of the image's extent along it.
pub const MIN_RUN_DIV: usize = 10;
/// A picture is at least 1/this of the image's width and of its height ...
pub const MIN_SIZE_DIV: usize = 5;
/// ... and at least this many pixels each way.
pub const MIN_PICTURE: usize = 32;
/// Per mille of a side's positions that must be side positions.
pub const MIN_EDGE_PER_MILLE: usize = 400;
/// Each end of a side (this fraction of it) ...
pub const END_DIV: usize = 16;
/// ... holds at least this per mille of side positions.
pub const MIN_END_PER_MILLE: usize = 100;
/// Per mille of a picture's outermost line within [`FLAT`] of its median that make it uniform.
pub const UNIFORM_PER_MILLE: usize = 900;
/// At most this many candidate lines per side (the longest runs) are combined.
pub const MAX_CANDIDATES: usize = 48;

/// The picture found in an image: columns `left..right`, rows `top..bottom`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Embedded {
    pub left: usize,
    pub top: usize,
    pub right: usize,
    pub bottom: usize,
}

/// The grey image the rule reads, row-major.
struct Grey {
    data: Vec<u8>,
    w: usize,
    h: usize,
}

impl Grey {
    fn new(view: &PixelView<'_>) -> Grey {
        let (w, h) = (view.width() as usize, view.height() as usize);
        let mut data = Vec::with_capacity(w * h);
        for y in 0..h {
            let row = view.row(y);
            match view.format() {
                PixelFormat::Gray8 => data.extend_from_slice(row),
                PixelFormat::Rgb8 => data.extend(row.chunks_exact(3).map(luma)),
                PixelFormat::Rgba8 => data.extend(row.chunks_exact(4).map(luma)),
            }
        }
        Grey { data, w, h }
    }

    fn at(&self, x: usize, y: usize) -> u8 {
        self.data[y * self.w + x]
    }

    fn row(&self, y: usize) -> &[u8] {
        &self.data[y * self.w..(y + 1) * self.w]
    }

    /// The image turned about its diagonal: its columns as rows.
    fn transposed(&self) -> Grey {
        let mut data = vec![0; self.data.len()];
        for (y, row) in self.data.chunks_exact(self.w).enumerate() {
            for (x, &v) in row.iter().enumerate() {
                data[x * self.h + y] = v;
            }
        }
        Grey {
            data,
            w: self.h,
            h: self.w,
        }
    }
}

pub(crate) fn luma(p: &[u8]) -> u8 {
    ((77 * u32::from(p[0]) + 150 * u32::from(p[1]) + 29 * u32::from(p[2])) >> 8) as u8
}

/// Which way a side faces: where its outside is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Side {
    /// Outside above: the line is the picture's first row.
    Top,
    /// Outside below: the line is the row after the picture's last.
    Bottom,
    /// Outside to the left: the line is the picture's first column.
    Left,
    /// Outside to the right: the line is the column after the picture's last.
    Right,
}

/// The side positions along one line, in `plane`'s rows: a top side (outside above) when
/// `outside_before`, else a bottom side (`line` is then the row after the picture's last).
/// Left and right sides are top and bottom sides of the transposed image.
fn side_positions(plane: &Grey, outside_before: bool, line: usize, out: &mut Vec<bool>) {
    out.clear();
    out.resize(plane.w, false);
    let rows = if outside_before {
        (line >= OUTSIDE_FAR).then(|| (line, line - OUTSIDE_NEAR, line - OUTSIDE_FAR))
    } else {
        (line >= 1 && line + OUTSIDE_FAR <= plane.h)
            .then(|| (line - 1, line - 1 + OUTSIDE_NEAR, line - 1 + OUTSIDE_FAR))
    };
    let Some((inside, near, far)) = rows else {
        return;
    };
    let (inside, near, far) = (plane.row(inside), plane.row(near), plane.row(far));
    for (x, flag) in out.iter_mut().enumerate().take(plane.w.saturating_sub(1)) {
        *flag = inside[x].abs_diff(near[x]) >= STEP
            && near[x].abs_diff(far[x]) <= FLAT
            && near[x].abs_diff(near[x + 1]) <= FLAT;
    }
}

/// The longest run of side positions, gaps of at most [`GAP`] bridged.
#[derive(Debug, Clone, Copy, Default)]
struct Run {
    start: usize,
    last: Option<usize>,
    longest: usize,
}

impl Run {
    fn push(&mut self, at: usize) {
        match self.last {
            Some(last) if at - last <= GAP + 1 => {}
            _ => self.start = at,
        }
        self.last = Some(at);
        self.longest = self.longest.max(at - self.start + 1);
    }
}

/// A candidate side: its line and how many side positions lie before each position along it
/// (`None` for the image's border, which needs none).
struct Candidate {
    line: usize,
    before: Option<Vec<u32>>,
}

impl Candidate {
    fn border(line: usize) -> Candidate {
        Candidate { line, before: None }
    }

    /// Per mille of the positions `from..to` that are side positions (1000 on the border).
    fn per_mille(&self, from: usize, to: usize) -> usize {
        match &self.before {
            None => 1000,
            Some(before) => (before[to] - before[from]) as usize * 1000 / (to - from).max(1),
        }
    }

    /// Whether the side holds between `from` and `to`: over the whole, and over each end
    /// (the first and last [`END_DIV`]th), which puts the corners where the side's run ends.
    fn holds(&self, from: usize, to: usize) -> bool {
        let end = ((to - from) / END_DIV).max(1);
        self.per_mille(from, to) >= MIN_EDGE_PER_MILLE
            && self.per_mille(from, from + end) >= MIN_END_PER_MILLE
            && self.per_mille(to - end, to) >= MIN_END_PER_MILLE
    }
}

/// The candidate lines of one side, the border first. `plane` is the grey image for the top
/// and bottom sides, its transpose for the left and right ones.
fn candidates(plane: &Grey, side: Side) -> Vec<Candidate> {
    let (lines, len) = (plane.h, plane.w);
    let outside_before = matches!(side, Side::Top | Side::Left);
    let mut flags = Vec::with_capacity(len);
    let mut found: Vec<(usize, usize)> = Vec::new();
    for line in 1..lines {
        side_positions(plane, outside_before, line, &mut flags);
        let mut run = Run::default();
        for (along, _) in flags.iter().enumerate().filter(|f| *f.1) {
            run.push(along);
        }
        if run.longest * MIN_RUN_DIV >= len {
            found.push((run.longest, line));
        }
    }
    // A picture's edge makes two adjacent candidate lines with runs alike (the outside
    // compared skips a line): the outer one is the picture's, the inner one is dropped.
    let runs: Vec<(usize, usize)> = found.iter().map(|&(run, line)| (line, run)).collect();
    found.retain(|&(run, line)| {
        let outer = if outside_before {
            line.checked_sub(1)
        } else {
            Some(line + 1)
        };
        let outer_run = outer
            .and_then(|o| runs.binary_search_by_key(&o, |r| r.0).ok())
            .map_or(0, |i| runs[i].1);
        outer_run * 4 < run * 3
    });
    found.sort_by(|a, b| b.cmp(a));
    found.truncate(MAX_CANDIDATES);
    let border = match side {
        Side::Top | Side::Left => 0,
        Side::Bottom | Side::Right => lines,
    };
    let mut out = vec![Candidate::border(border)];
    out.extend(found.into_iter().map(|(_, line)| {
        side_positions(plane, outside_before, line, &mut flags);
        let mut before = Vec::with_capacity(len + 1);
        let mut n = 0u32;
        before.push(0);
        for &flag in &flags {
            n += u32::from(flag);
            before.push(n);
        }
        Candidate {
            line,
            before: Some(before),
        }
    }));
    out
}

/// A histogram of grey levels.
struct Histogram([usize; 256]);

impl Histogram {
    fn new() -> Histogram {
        Histogram([0; 256])
    }

    fn median(&self) -> usize {
        let n: usize = self.0.iter().sum();
        let mut seen = 0;
        self.0
            .iter()
            .position(|&c| {
                seen += c;
                seen * 2 >= n
            })
            .unwrap_or(0)
    }
}

/// Counts the near outside pixels of a side, `from..to` along it.
fn count_outside(g: &Grey, side: Side, line: usize, from: usize, to: usize, into: &mut Histogram) {
    for along in from..to {
        let v = match side {
            Side::Top => g.at(along, line - OUTSIDE_NEAR),
            Side::Bottom => g.at(along, line - 1 + OUTSIDE_NEAR),
            Side::Left => g.at(line - OUTSIDE_NEAR, along),
            Side::Right => g.at(line - 1 + OUTSIDE_NEAR, along),
        };
        into.0[usize::from(v)] += 1;
    }
}

/// The largest picture embedded in `view` by the rule of the module documentation.
pub fn find_embedded(view: &PixelView<'_>) -> Option<Embedded> {
    let g = Grey::new(view);
    let (w, h) = (g.w, g.h);
    let min_w = (w / MIN_SIZE_DIV).max(MIN_PICTURE);
    let min_h = (h / MIN_SIZE_DIV).max(MIN_PICTURE);
    if w < min_w || h < min_h {
        return None;
    }
    let gt = g.transposed();
    let tops = candidates(&g, Side::Top);
    let bottoms = candidates(&g, Side::Bottom);
    let lefts = candidates(&gt, Side::Left);
    let rights = candidates(&gt, Side::Right);

    // The best so far: (sides off the border, area) and the rectangle.
    let mut best: Option<((usize, usize), Embedded)> = None;
    for t in &tops {
        for b in bottoms.iter().filter(|b| b.line >= t.line + min_h) {
            for l in &lefts {
                for r in rights.iter().filter(|r| r.line >= l.line + min_w) {
                    let real = [t, b, l, r].iter().filter(|c| c.before.is_some()).count();
                    let rank = (real, (r.line - l.line) * (b.line - t.line));
                    if real < 2
                        || best.is_some_and(|(best, _)| rank <= best)
                        || !t.holds(l.line, r.line)
                        || !b.holds(l.line, r.line)
                        || !l.holds(t.line, b.line)
                        || !r.holds(t.line, b.line)
                    {
                        continue;
                    }
                    let e = Embedded {
                        left: l.line,
                        top: t.line,
                        right: r.line,
                        bottom: b.line,
                    };
                    if is_one_picture(&g, &gt, &e) {
                        best = Some((rank, e));
                    }
                }
            }
        }
    }
    best.map(|(_, e)| e)
}

/// Whether the rectangle is one picture: no row or column across it is of the surround's
/// colour (the median of the near outside lines of its sides off the image's border), at
/// least [`UNIFORM_PER_MILLE`]‰ of it within [`FLAT`]. A rectangle crossed by the surround
/// holds more than a picture: a picture and a text bar under it, two pictures.
fn is_one_picture(g: &Grey, gt: &Grey, e: &Embedded) -> bool {
    let sides = [
        (Side::Top, e.top, 0, e.left, e.right),
        (Side::Bottom, e.bottom, g.h, e.left, e.right),
        (Side::Left, e.left, 0, e.top, e.bottom),
        (Side::Right, e.right, g.w, e.top, e.bottom),
    ];
    let mut surround = Histogram::new();
    for &(side, line, border, from, to) in &sides {
        if line != border {
            count_outside(g, side, line, from, to, &mut surround);
        }
    }
    let surround = surround.median() as u8;
    // Whether a line of `len` pixels is of the surround's colour, stopping at the first
    // pixel too many that is not.
    let of_surround = |pixels: &mut dyn Iterator<Item = u8>, len: usize| {
        let allowed = len - len * UNIFORM_PER_MILLE / 1000;
        let mut other = 0;
        for v in pixels {
            if v.abs_diff(surround) > FLAT {
                other += 1;
                if other > allowed {
                    return false;
                }
            }
        }
        true
    };
    let (w, h) = (e.right - e.left, e.bottom - e.top);
    let row_crosses =
        (e.top..e.bottom).any(|y| of_surround(&mut g.row(y)[e.left..e.right].iter().copied(), w));
    let column_crosses = || {
        (e.left..e.right).any(|x| of_surround(&mut gt.row(x)[e.top..e.bottom].iter().copied(), h))
    };
    !row_crosses && !column_crosses()
}

/// PDQ of the largest picture embedded in `view`, or `None` when there is none.
pub fn pdq_embedded(view: &PixelView<'_>) -> Option<PdqOutput> {
    let e = find_embedded(view)?;
    Some(pdq_hash(&view.crop(
        e.left,
        e.top,
        e.right - e.left,
        e.bottom - e.top,
    )))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::xorshift32;

    /// A deterministic textured picture (w x h RGB).
    fn picture(w: usize, h: usize) -> Vec<u8> {
        let mut next = xorshift32(0x2545_f491);
        let mut out = Vec::with_capacity(w * h * 3);
        for y in 0..h {
            for x in 0..w {
                let v = ((x * x / 9 + y * 5 + (x ^ y) % 31) % 200 + (next() >> 27) as usize) as u8;
                out.extend([v, v / 2 + 50, 230 - v]);
            }
        }
        out
    }

    /// A page: a flat background with a title bar, a side bar with text-like blocks, the
    /// picture at (`x`, `y`) and bars of "text" under it.
    fn page(
        pic: &[u8],
        (pw, ph): (usize, usize),
        (x, y): (usize, usize),
    ) -> (Vec<u8>, usize, usize) {
        let (w, h) = (640, 400);
        let mut out = [250u8, 250, 250].repeat(w * h);
        let mut fill = |x0: usize, y0: usize, x1: usize, y1: usize, c: [u8; 3]| {
            for yy in y0..y1 {
                for xx in x0..x1 {
                    out[(yy * w + xx) * 3..][..3].copy_from_slice(&c);
                }
            }
        };
        fill(0, 0, w, 30, [220, 222, 228]);
        fill(0, 30, 120, h, [238, 238, 238]);
        for k in 0..6 {
            fill(12, 50 + 40 * k, 90, 62 + 40 * k, [180, 180, 180]);
        }
        for k in 0..3 {
            let yy = y + ph + 8 + 14 * k;
            fill(x, yy, x + pw * (3 + k) / 6, yy + 7, [60, 60, 60]);
        }
        for row in 0..ph {
            let at = ((y + row) * w + x) * 3;
            out[at..at + pw * 3].copy_from_slice(&pic[row * pw * 3..(row + 1) * pw * 3]);
        }
        (out, w, h)
    }

    fn view(data: &[u8], w: usize, h: usize) -> PixelView<'_> {
        PixelView::packed(data, w as u32, h as u32, PixelFormat::Rgb8).unwrap()
    }

    #[test]
    fn a_picture_on_a_page_is_found_exactly_and_hashed_alone() {
        let (pw, ph) = (300, 200);
        let pic = picture(pw, ph);
        let (shot, w, h) = page(&pic, (pw, ph), (200, 60));
        let v = view(&shot, w, h);
        assert_eq!(
            find_embedded(&v),
            Some(Embedded {
                left: 200,
                top: 60,
                right: 500,
                bottom: 260
            })
        );
        let alone = pdq_hash(&view(&pic, pw, ph));
        assert_eq!(pdq_embedded(&v), Some(alone));
        assert!(pdq_hash(&v).hash.distance(&alone.hash) > 31);
    }

    #[test]
    fn a_picture_alone_has_no_embedded_picture() {
        let pic = picture(320, 240);
        assert_eq!(find_embedded(&view(&pic, 320, 240)), None);
        assert_eq!(pdq_embedded(&view(&pic, 320, 240)), None);
    }

    #[test]
    fn flat_pages_and_tiny_images_have_none_and_do_not_panic() {
        let flat = [200u8, 200, 200].repeat(300 * 200);
        assert_eq!(find_embedded(&view(&flat, 300, 200)), None);
        for (w, h) in [
            (1, 1),
            (1, 40),
            (40, 1),
            (3, 3),
            (31, 31),
            (32, 32),
            (33, 200),
        ] {
            for format in [PixelFormat::Gray8, PixelFormat::Rgb8, PixelFormat::Rgba8] {
                let mut next = xorshift32(7);
                let data: Vec<u8> = (0..w * h * format.bytes_per_pixel())
                    .map(|_| next() as u8)
                    .collect();
                let v = PixelView::packed(&data, w as u32, h as u32, format).unwrap();
                if let Some(e) = find_embedded(&v) {
                    assert!(e.left < e.right && e.right <= w && e.top < e.bottom && e.bottom <= h);
                }
                pdq_embedded(&v);
            }
        }
    }
}
