//! NCMEC's hash sharing API, as python-threatexchange's client reads it
//! (`exchanges/clients/ncmec/hash_api.py`, `exchanges/impl/ncmec_api.py`).
//!
//! - Base URL: an environment of pytx's `NCMECEnvironment` (`https://report.cybertip.org/hashsharing`,
//!   the industry database, unless the source names another); requests go to `{base}/v2/...`.
//! - Credential: `user:password` (pytx's `TX_NCMEC_CREDENTIALS` format), sent as HTTP basic
//!   authentication.
//! - A page: `GET {base}/v2/entries?from=T&to=T` (UTC, `%Y-%m-%dT%H:%M:%SZ`), XML:
//!   `<queryResult>` holding `<images maxTimestamp=..>` and `<videos ..>`, whose children are
//!   entries (`<image>`, `<video>`) and tombstones (`<deletedImage>`, `<deletedVideo>`), each
//!   with `<id>`, `<member id="N">`, optional `<classification>` and `<fingerprints>` (one element
//!   per fingerprint: `<md5>`, `<sha1>`, `<pdq>`, `<pdna>`...); and `<paging><next>` (a path
//!   under the base URL, empty or absent on the last page) with the next page of the same
//!   range. An entry is `{member}-{id}` (pytx's key); every update is its whole state.
//! - Entries in a range come in no order of time, so a range counts as read only when its last
//!   page is; the checkpoint holds the range and, mid-range, the `next` path (pytx considers
//!   it usable for 12 hours: an older one restarts the range; entries are snapshots, so reading
//!   them again changes nothing). After the last page the next range starts at this one's end,
//!   which is 5 seconds behind the clock, as pytx's.
//! - An entry that pytx's parser refuses (no `<id>`, no member id, an unknown element) is
//!   skipped and counted here, where pytx fails the whole page.

use serde::{Deserialize, Serialize};

use super::{
    get_body, read_checkpoint, signal_algorithm, signal_types, sourced_entry, user_password,
    Exchange, ExchangeKind, FetchContext, FetchError, Fetched, RecordFacts,
};
use crate::time::{now_unix, rfc3339};

pub struct Ncmec;

/// pytx's `_NCMECPagingInfo.is_valid`: a `next` path is used for 12 hours.
const NEXT_VALID_SECS: i64 = 12 * 3600;
/// pytx's `fetch_iter`: a range ends this far behind the clock.
const END_BEHIND_SECS: i64 = 5;

#[derive(Serialize, Deserialize, Debug, PartialEq)]
struct Checkpoint {
    /// The start of the range being read (the end of the last range read).
    start: i64,
    /// Mid-range: the range's end, the `next` path and when it was given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    paging: Option<Paging>,
}

#[derive(Serialize, Deserialize, Debug, PartialEq)]
struct Paging {
    end: i64,
    next: String,
    at: i64,
}

/// One entry of a page, as `NCMECEntryUpdate.from_xml` reads it.
struct Entry {
    id: String,
    member: i64,
    deleted: bool,
    classification: Option<String>,
    fingerprints: Vec<(String, String)>,
}

fn child<'a, 'i>(
    node: roxmltree::Node<'a, 'i>,
    name: &str,
) -> Result<roxmltree::Node<'a, 'i>, String> {
    let mut found = node.children().filter(|c| c.has_tag_name(name));
    match (found.next(), found.next()) {
        (Some(one), None) => Ok(one),
        (None, _) => Err(format!("no <{name}>")),
        (Some(_), Some(_)) => Err(format!("more than one <{name}>")),
    }
}

fn read_entry(node: roxmltree::Node<'_, '_>) -> Result<Entry, String> {
    let tag = node.tag_name().name().to_ascii_lowercase();
    let (deleted, kind) = match tag.strip_prefix("deleted") {
        Some(kind) => (true, kind.to_string()),
        None => (false, tag),
    };
    if kind != "image" && kind != "video" {
        return Err(format!("<{}> is not an entry", node.tag_name().name()));
    }
    let id = child(node, "id")?
        .text()
        .ok_or("an empty <id>")?
        .to_string();
    let member = child(node, "member")?
        .attribute("id")
        .ok_or("<member> without an id")?
        .trim()
        .parse()
        .map_err(|_| "<member> id is not a number".to_string())?;
    let classification = node
        .children()
        .find(|c| c.has_tag_name("classification"))
        .and_then(|c| c.text())
        .map(str::to_string);
    let fingerprints = node
        .children()
        .find(|c| c.has_tag_name("fingerprints"))
        .map(|f| {
            f.children()
                .filter(|c| c.is_element())
                .filter_map(|c| Some((c.tag_name().name().to_string(), c.text()?.to_string())))
                .collect()
        })
        .unwrap_or_default();
    Ok(Entry {
        id,
        member,
        deleted,
        classification,
        fingerprints,
    })
}

/// Turns a page into entries: per entry, every fingerprint pixelprint stores is added or
/// replaced (key `{member}-{id}:{fingerprint}`), and removed when the entry is a tombstone or
/// no longer carries it.
fn read_page(
    xml: &str,
    checkpoint: &Checkpoint,
    end: i64,
    now: i64,
) -> Result<Fetched, FetchError> {
    let doc = roxmltree::Document::parse(xml)
        .map_err(|e| FetchError::Malformed(format!("not XML: {e}")))?;
    let root = doc.root_element();
    let mut fetched = Fetched::default();
    let groups = root
        .children()
        .filter(|c| c.has_tag_name("images") || c.has_tag_name("videos"));
    for (i, node) in groups
        .flat_map(|g| g.children().filter(|c| c.is_element()))
        .enumerate()
    {
        let entry = match read_entry(node) {
            Ok(e) => e,
            Err(why) => {
                fetched.skipped.push(format!("record {i}: {why}"));
                continue;
            }
        };
        let name = format!("{}-{}", entry.member, entry.id);
        for (fingerprint, algorithm) in signal_types(ExchangeKind::Ncmec) {
            let key = format!("{name}:{fingerprint}");
            let value = entry
                .fingerprints
                .iter()
                .find(|(f, _)| f == fingerprint)
                .map(|(_, v)| v.trim());
            let Some(value) = value.filter(|_| !entry.deleted) else {
                fetched.deletions.push(key);
                continue;
            };
            debug_assert_eq!(
                signal_algorithm(ExchangeKind::Ncmec, fingerprint),
                Some(algorithm)
            );
            let facts = RecordFacts {
                algorithm,
                key,
                id: name.clone(),
                hash: value,
                tags: entry.classification.iter().cloned().collect(),
            };
            match sourced_entry(ExchangeKind::Ncmec, facts) {
                Ok(e) => fetched.upserts.push(e),
                Err(why) => fetched
                    .skipped
                    .push(format!("record {i} {fingerprint}: {why}")),
            }
        }
    }
    let next = root
        .children()
        .find(|c| c.has_tag_name("paging"))
        .and_then(|p| p.children().find(|c| c.has_tag_name("next")))
        .and_then(|n| n.text())
        .map(str::trim)
        .filter(|n| !n.is_empty());
    let next_checkpoint = match next {
        Some(next) => {
            if !next.starts_with('/') {
                return Err(FetchError::Malformed(format!(
                    "<next> is not a path under the base URL: {next:?}"
                )));
            }
            Checkpoint {
                start: checkpoint.start,
                paging: Some(Paging {
                    end,
                    next: next.to_string(),
                    at: now,
                }),
            }
        }
        None => Checkpoint {
            start: end,
            paging: None,
        },
    };
    fetched.more = next_checkpoint.paging.is_some();
    fetched.checkpoint = serde_json::to_string(&next_checkpoint).expect("numbers and strings");
    Ok(fetched)
}

impl Exchange for Ncmec {
    fn default_base_url(&self) -> &'static str {
        "https://report.cybertip.org/hashsharing"
    }

    fn fetch(
        &self,
        ctx: &FetchContext<'_>,
        checkpoint: Option<&str>,
    ) -> Result<Fetched, FetchError> {
        let checkpoint = read_checkpoint(
            checkpoint,
            Checkpoint {
                start: 0,
                paging: None,
            },
        )?;
        let (user, password) = user_password(ctx.secret, "NCMEC")?;
        let base = ctx.base_url.trim_end_matches('/');
        let now = now_unix();
        let paging = checkpoint
            .paging
            .as_ref()
            .filter(|p| now - p.at <= NEXT_VALID_SECS);
        let (request, end) = match paging {
            Some(p) => (ctx.http.get(format!("{base}{}", p.next)), p.end),
            None => {
                let end = now - END_BEHIND_SECS;
                if checkpoint.start >= end {
                    return Ok(Fetched {
                        checkpoint: serde_json::to_string(&checkpoint).expect("numbers"),
                        ..Fetched::default()
                    });
                }
                let request = ctx
                    .http
                    .get(format!("{base}/v2/entries"))
                    .query(&[("from", rfc3339(checkpoint.start)), ("to", rfc3339(end))]);
                (request, end)
            }
        };
        let body = get_body(request.basic_auth(user, Some(password)), false)?;
        let xml = std::str::from_utf8(&body)
            .map_err(|e| FetchError::Malformed(format!("not UTF-8: {e}")))?;
        read_page(xml, &checkpoint, end, now)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // The shape of the example page in NCMEC's API documentation, with a fingerprint that is not
    // PDQ hex and an entry without its id.
    const PAGE: &str = r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<queryResult xmlns="https://hashsharing.ncmec.org/hashsharing/v2">
    <images count="3" maxTimestamp="2017-10-24T15:10:00Z">
        <image>
            <member id="42">Example Member</member>
            <timestamp>2017-10-24T15:00:00Z</timestamp>
            <id>image1</id>
            <classification>A1</classification>
            <fingerprints>
                <md5>A1A1A1A1A1A1A1A1A1A1A1A1A1A1A1A1</md5>
                <sha1>a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1</sha1>
                <pdq>zz</pdq>
            </fingerprints>
        </image>
        <deletedImage>
            <member id="43">Example Member2</member>
            <id>image4</id>
        </deletedImage>
        <image><member id="44">No id</member></image>
    </images>
    <paging>
        <next>/v2/entries?from=2017-10-20T00%3A00%3A00.000Z&amp;to=2017-10-30T00%3A00%3A00.000Z&amp;start=2001&amp;size=1000&amp;max=3000</next>
    </paging>
</queryResult>"#;

    #[test]
    fn a_page_gives_fingerprints_tombstones_skips_and_the_next_path() {
        let cp = Checkpoint {
            start: 0,
            paging: None,
        };
        let f = read_page(PAGE, &cp, 1000, 900).unwrap();
        assert_eq!(f.upserts.len(), 1);
        assert_eq!(f.upserts[0].key, "42-image1:md5");
        assert_eq!(f.upserts[0].hash, "a1".repeat(16));
        assert!(f.upserts[0]
            .source
            .contains(r#""id":"42-image1","tags":["A1"]"#));
        assert_eq!(
            f.deletions,
            ["43-image4:pdq", "43-image4:md5"],
            "a tombstone removes every fingerprint"
        );
        assert_eq!(f.skipped.len(), 2, "{:?}", f.skipped);
        assert!(
            f.skipped[0].starts_with("record 0 pdq: "),
            "{:?}",
            f.skipped
        );
        assert!(
            f.skipped[1].starts_with("record 2: no <id>"),
            "{:?}",
            f.skipped
        );
        assert!(f.more);
        let next: Checkpoint = serde_json::from_str(&f.checkpoint).unwrap();
        assert_eq!(next.start, 0);
        let paging = next.paging.unwrap();
        assert_eq!((paging.end, paging.at), (1000, 900));
        assert!(
            paging.next.starts_with("/v2/entries?from=") && paging.next.contains("&start=2001")
        );
    }

    #[test]
    fn the_last_page_of_a_range_moves_the_start_to_its_end() {
        let xml = r#"<queryResult xmlns="https://hashsharing.ncmec.org/hashsharing/v2"><paging/></queryResult>"#;
        let cp = Checkpoint {
            start: 7,
            paging: None,
        };
        let f = read_page(xml, &cp, 500, 505).unwrap();
        assert!(!f.more);
        assert_eq!(f.checkpoint, r#"{"start":500}"#);
    }

    #[test]
    fn a_next_link_elsewhere_and_a_page_that_is_not_xml_are_malformed() {
        let cp = Checkpoint {
            start: 0,
            paging: None,
        };
        let xml = "<queryResult><paging><next>https://elsewhere.example/v2/entries</next></paging></queryResult>";
        assert!(matches!(
            read_page(xml, &cp, 1, 1),
            Err(FetchError::Malformed(_))
        ));
        assert!(matches!(
            read_page("{}", &cp, 1, 1),
            Err(FetchError::Malformed(_))
        ));
    }
}
