//! Caption bands: a band of one background colour with text on it across the top or the
//! bottom of a picture (a meme's caption, a title strip, a credit line), found and taken out so
//! that a query can also be hashed without it: [`pdq_captioned`] is the PDQ of the rows between
//! the bands, matched against PDQ entries like the dihedral variants, the trimmed and the
//! embedded PDQ (`pdq-captioned` in the registry). It is a query's hash, never stored; when no
//! band is found there is no value (not a copy of plain PDQ).
//!
//! What it can and cannot do: a band *added* to the picture (on a taller canvas, as meme makers
//! do) hides nothing, and the rows left are the picture itself. A band laid *over* the picture
//! hides its rows for good: the rows left are a crop, and PDQ does not survive a crop of a
//! sixth of the height (the accuracy benchmark's `caption` edit). Filling the band with the
//! rows next to it (the nearest row, or each column's mean) keeps the geometry but brings only
//! about half of such copies within PDQ's 31 bits, and moves an added band's picture away from
//! its exact hash: the rows left are hashed as they are.
//!
//! The rule, on PDQ's idea of grey (`(77 R + 150 G + 29 B) >> 8`, as `src/embedded.rs`):
//! - a band starts at the image's top or bottom row, which must be flat: at least
//!   [`EDGE_PER_MILLE`]‰ of it within [`FLAT`] of its median, the band's colour;
//! - it goes on, row by row inwards, while each row is *background and ink*: at least
//!   [`BACKGROUND_PER_MILLE`]‰ of its pixels within [`FLAT`] of the band's colour, and at
//!   most [`MID_PER_MILLE`]‰ neither background nor ink (ink: at least [`INK`] from the band's
//!   colour; what lies between is the glyphs' anti-aliased edges, and in a photo most pixels);
//! - it is a caption when at least [`MIN_TEXT_ROWS`] of its rows carry ink (at least
//!   [`TEXT_PER_MILLE`]‰ of the row): a band without text is a border, `src/trim.rs`'s case;
//! - the rows left keep at least 1/[`MIN_KEPT_DIV`] of the image's height (a band reaching
//!   further is a flat image or a page of text, not a caption): else there is no caption.
//!
//! Why these numbers, from what captions are rather than from a benchmark: [`INK`] is a
//! quarter of the grey range because text is made to be read (WCAG's weakest contrast for
//! large text, 3:1, is already more than 64 grey levels apart on white or on black); [`FLAT`]
//! is above a JPEG's quantisation noise on a flat area at usual qualities and far below
//! [`INK`]; the per-mille bounds say "background and ink, few in-between pixels" (a stroke
//! has two anti-aliased edges, each about a pixel wide) and "at least a quarter background":
//! the large bold type of memes inks about half of its densest rows, so half (the first
//! bound) cut such bands short; three rows of ink is the least a glyph is tall. The
//! background bound was lowered from a half to a quarter after one such band (a photo of the
//! benchmark's even half) was seen cut at its text; the odd half gained as much (94.8 % of
//! `caption_added` found within PDQ's 31 bits by this hash alone, against 76.6 % before in
//! all). Nothing else was tuned on the benchmark's images.
//!
//! Cost: one pass over the rows of each band plus its first non-band row, then PDQ of the rows
//! left; an image without a flat top and bottom row costs two rows.

use crate::embedded::luma;
use crate::pdq::{pdq_hash, PdqOutput};
use crate::pixels::{PixelFormat, PixelView};

/// The largest grey difference from the band's colour that is still background.
pub const FLAT: u8 = 8;
/// The smallest grey difference from the band's colour that is ink.
pub const INK: u8 = 64;
/// Per mille of the outermost row within [`FLAT`] of its median.
pub const EDGE_PER_MILLE: usize = 900;
/// Per mille of a band row within [`FLAT`] of the band's colour.
pub const BACKGROUND_PER_MILLE: usize = 250;
/// Per mille of a band row that may be neither background nor ink.
pub const MID_PER_MILLE: usize = 250;
/// Per mille of a row that makes it a row of text.
pub const TEXT_PER_MILLE: usize = 10;
/// A band holds at least this many rows of text.
pub const MIN_TEXT_ROWS: usize = 3;
/// The picture left keeps at least 1/this of the image's height.
pub const MIN_KEPT_DIV: usize = 2;
/// Images under this many rows or columns have no caption.
pub const MIN_DIMENSION: usize = 32;

/// The rows of an image that are not caption: `top..bottom`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Captioned {
    pub top: usize,
    pub bottom: usize,
}

/// One row's grey levels.
pub(crate) fn grey_row(view: &PixelView<'_>, y: usize, out: &mut Vec<u8>) {
    out.clear();
    let row = view.row(y);
    match view.format() {
        PixelFormat::Gray8 => out.extend_from_slice(row),
        PixelFormat::Rgb8 => out.extend(row.chunks_exact(3).map(luma)),
        PixelFormat::Rgba8 => out.extend(row.chunks_exact(4).map(luma)),
    }
}

/// The median of a row's grey levels.
fn median(row: &[u8]) -> u8 {
    let mut counts = [0usize; 256];
    for &v in row {
        counts[usize::from(v)] += 1;
    }
    let mut seen = 0;
    counts
        .iter()
        .position(|&c| {
            seen += c;
            seen * 2 >= row.len()
        })
        .unwrap_or(0) as u8
}

/// A row's pixels by their distance from the band's colour.
struct RowCounts {
    background: usize,
    ink: usize,
    mid: usize,
}

fn count(row: &[u8], colour: u8) -> RowCounts {
    let mut c = RowCounts {
        background: 0,
        ink: 0,
        mid: 0,
    };
    for &v in row {
        match v.abs_diff(colour) {
            d if d <= FLAT => c.background += 1,
            d if d >= INK => c.ink += 1,
            _ => c.mid += 1,
        }
    }
    c
}

/// How many rows from the outside in, `rows` giving the row indices in that order, form a
/// caption band (0 when they do not), at most `max`.
fn band(view: &PixelView<'_>, rows: impl Iterator<Item = usize>, max: usize) -> usize {
    let w = view.width() as usize;
    let mut grey = Vec::with_capacity(w);
    let mut colour = 0;
    let (mut height, mut text_rows) = (0, 0);
    for (k, y) in rows.enumerate() {
        grey_row(view, y, &mut grey);
        if k == 0 {
            colour = median(&grey);
            if count(&grey, colour).background * 1000 < EDGE_PER_MILLE * w {
                return 0;
            }
        }
        let c = count(&grey, colour);
        if c.background * 1000 < BACKGROUND_PER_MILLE * w || c.mid * 1000 > MID_PER_MILLE * w {
            break;
        }
        if k == max {
            // Band rows all the way: a flat image or a text page, not a captioned picture.
            return 0;
        }
        text_rows += usize::from(c.ink * 1000 >= TEXT_PER_MILLE * w);
        height = k + 1;
    }
    if text_rows >= MIN_TEXT_ROWS {
        height
    } else {
        0
    }
}

/// The rows of `view` that are not caption, or `None` when it has no caption band.
pub fn find_caption(view: &PixelView<'_>) -> Option<Captioned> {
    let (w, h) = (view.width() as usize, view.height() as usize);
    if w < MIN_DIMENSION || h < MIN_DIMENSION {
        return None;
    }
    let max = h - h.div_ceil(MIN_KEPT_DIV);
    let top = band(view, 0..h, max);
    let bottom = h - band(view, (0..h).rev(), max - top);
    (top > 0 || bottom < h).then_some(Captioned { top, bottom })
}

/// PDQ of `view` without its caption bands (the rows between them), or `None` when it has
/// none.
pub fn pdq_captioned(view: &PixelView<'_>) -> Option<PdqOutput> {
    let c = find_caption(view)?;
    Some(pdq_hash(&view.crop(
        0,
        c.top,
        view.width() as usize,
        c.bottom - c.top,
    )))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::xorshift32;

    /// A deterministic textured picture (w x h RGB).
    fn picture(w: usize, h: usize) -> Vec<u8> {
        let mut next = xorshift32(0x9e37_79b9);
        let mut out = Vec::with_capacity(w * h * 3);
        for y in 0..h {
            for x in 0..w {
                let v = ((x * x / 11 + y * 3 + (x ^ y) % 29) % 190 + (next() >> 27) as usize) as u8;
                out.extend([v, 240 - v, v / 3 + 70]);
            }
        }
        out
    }

    /// A band of `bg` with a line of "text" in `ink`: glyph-like strokes in its middle rows,
    /// the first of them inking under half of the row.
    fn band(w: usize, rows: usize, bg: u8, ink: u8) -> Vec<u8> {
        let mut out = vec![bg; w * rows * 3];
        let (from, to) = (rows / 3, rows * 2 / 3);
        for y in from..to {
            for x in (w / 8..w * 7 / 8).filter(|x| x % 7 < 2 || (y == from && x % 7 < 4)) {
                out[(y * w + x) * 3..][..3].fill(ink);
            }
        }
        out
    }

    fn view(data: &[u8], w: usize, h: usize) -> PixelView<'_> {
        PixelView::packed(data, w as u32, h as u32, PixelFormat::Rgb8).unwrap()
    }

    #[test]
    fn a_band_added_above_is_found_and_the_picture_hashed_alone() {
        let (w, ph, bh) = (320, 200, 40);
        let pic = picture(w, ph);
        let meme = [band(w, bh, 255, 0), pic.clone()].concat();
        let v = view(&meme, w, ph + bh);
        assert_eq!(
            find_caption(&v),
            Some(Captioned {
                top: bh,
                bottom: ph + bh
            })
        );
        let alone = pdq_hash(&view(&pic, w, ph));
        assert_eq!(pdq_captioned(&v), Some(alone));
        assert!(pdq_hash(&v).hash.distance(&alone.hash) > 31);
    }

    /// Large bold type (a meme's) inks more than half of its densest rows: the band is still
    /// found whole, not cut at its text.
    #[test]
    fn a_band_of_large_bold_type_is_found_whole() {
        let (w, ph, bh) = (320, 200, 60);
        let pic = picture(w, ph);
        let mut caption = vec![0u8; w * bh * 3];
        for y in 15..45 {
            let dense = (25..35).contains(&y);
            for x in (16..w - 16).filter(|x| x % 10 < if dense { 7 } else { 3 }) {
                caption[(y * w + x) * 3..][..3].fill(255);
            }
        }
        let meme = [pic.clone(), caption].concat();
        let v = view(&meme, w, ph + bh);
        assert_eq!(find_caption(&v), Some(Captioned { top: 0, bottom: ph }));
        assert_eq!(pdq_captioned(&v), Some(pdq_hash(&view(&pic, w, ph))));
    }

    #[test]
    fn bands_above_and_below_are_both_taken_out() {
        let (w, ph) = (256, 180);
        let pic = picture(w, ph);
        let both = [band(w, 24, 20, 230), pic, band(w, 30, 250, 10)].concat();
        let v = view(&both, w, 24 + ph + 30);
        assert_eq!(
            find_caption(&v),
            Some(Captioned {
                top: 24,
                bottom: 24 + ph
            })
        );
    }

    #[test]
    fn a_band_over_the_picture_is_found_where_it_starts() {
        let (w, h, bh) = (300, 240, 36);
        let mut pic = picture(w, h);
        pic[(h - bh) * w * 3..].copy_from_slice(&band(w, bh, 0, 255));
        assert_eq!(
            find_caption(&view(&pic, w, h)),
            Some(Captioned {
                top: 0,
                bottom: h - bh
            })
        );
    }

    #[test]
    fn photos_borders_without_text_and_flat_images_have_none() {
        let (w, h) = (320, 240);
        let pic = picture(w, h);
        assert_eq!(find_caption(&view(&pic, w, h)), None);
        assert_eq!(pdq_captioned(&view(&pic, w, h)), None);
        // A letterbox bar is a border (pdq-trimmed's), not a caption.
        let bar = [band(w, 30, 0, 0), pic.clone()].concat();
        assert_eq!(find_caption(&view(&bar, w, h + 30)), None);
        let flat = vec![255u8; w * h * 3];
        assert_eq!(find_caption(&view(&flat, w, h)), None);
        // A page of text: band rows all the way down is no captioned picture.
        let page = [band(w, 60, 255, 0), band(w, 60, 255, 0)]
            .concat()
            .repeat(2);
        assert_eq!(find_caption(&view(&page, w, 240)), None);
    }

    #[test]
    fn tiny_and_odd_images_do_not_panic() {
        for (w, h) in [
            (1, 1),
            (1, 64),
            (64, 1),
            (31, 31),
            (32, 32),
            (33, 200),
            (200, 33),
        ] {
            for format in [PixelFormat::Gray8, PixelFormat::Rgb8, PixelFormat::Rgba8] {
                let mut next = xorshift32(11);
                let data: Vec<u8> = (0..w * h * format.bytes_per_pixel())
                    .map(|_| next() as u8)
                    .collect();
                let v = PixelView::packed(&data, w as u32, h as u32, format).unwrap();
                if let Some(c) = find_caption(&v) {
                    assert!(c.top < c.bottom && c.bottom <= h);
                }
                pdq_captioned(&v);
            }
        }
    }
}
