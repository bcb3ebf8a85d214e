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

use super::feedback::{FeedbackItem, Verdict};
use super::{
    get_body, read_checkpoint, send, signal_algorithm, signal_types, sourced_entry, user_password,
    Exchange, ExchangeKind, FetchContext, FetchError, Fetched, RecordFacts, Secret,
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
                descriptors: Vec::new(),
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

/// The namespace of NCMEC's documents, as pytx's `submit_feedback` writes it.
const XMLNS: &str = "https://hashsharing.ncmec.org/hashsharing/v2";

/// NCMEC's name of the fingerprint an entry of `algorithm` is (pytx's `FingerprintType`
/// values: the element name in capitals).
fn fingerprint_type(algorithm: &str) -> Option<String> {
    signal_types(ExchangeKind::Ncmec)
        .find(|(_, a)| a.name() == algorithm)
        .map(|(f, _)| f.to_ascii_uppercase())
}

/// `{member}-{id}`, the entry's source id, as the member (esp) id and NCMEC's entry id.
fn split_source_id(id: &str) -> Option<(i64, &str)> {
    let (member, entry) = id.split_once('-')?;
    Some((member.parse().ok()?, entry)).filter(|(_, e)| !e.is_empty())
}

/// The negative feedback reasons NCMEC offers for a fingerprint type (pytx's
/// `feedback_reasons`: `<availableFeedbackReasons>` holding one element per reason with its
/// `guid` and `name` attributes), as (guid, name).
fn read_reasons(xml: &str) -> Result<Vec<(String, String)>, FetchError> {
    let doc = roxmltree::Document::parse(xml)
        .map_err(|e| FetchError::Malformed(format!("feedback reasons are not XML: {e}")))?;
    let list =
        child(doc.root_element(), "availableFeedbackReasons").map_err(FetchError::Malformed)?;
    list.children()
        .filter(|c| c.is_element())
        .map(|r| {
            let attribute = |name: &str| {
                r.attribute(name).map(str::to_string).ok_or_else(|| {
                    FetchError::Malformed(format!("a feedback reason without its {name}"))
                })
            };
            Ok((attribute("guid")?, attribute("name")?))
        })
        .collect()
}

/// The `feedbackSubmission` document pytx's `submit_upvote` / `submit_feedback` send (Python's
/// `ET.tostring`, byte for byte).
fn submission(reason: Option<&str>) -> String {
    let vote = match reason {
        None => "<affirmative />".to_string(),
        Some(guid) => format!(
            "<negative><reasonIds><guid>{}</guid></reasonIds></negative>",
            xml_text(guid)
        ),
    };
    format!(r#"<feedbackSubmission xmlns="{XMLNS}">{vote}</feedbackSubmission>"#)
}

fn xml_text(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

impl Exchange for Ncmec {
    fn default_base_url(&self) -> &'static str {
        "https://report.cybertip.org/hashsharing"
    }

    fn takes_feedback(&self) -> bool {
        true
    }

    /// `PUT {base}/v2/entries/{member}/{id}/{TYPE}/feedback` as pytx's `NCMECHashAPI`
    /// sends it: `submit_upvote` for a confirmed match, `submit_feedback` with a downvote for a
    /// false positive, whose reason is the source's `feedback_reason` or else the only one
    /// NCMEC offers for the fingerprint type (`GET {base}/v2/feedback/{TYPE}/reasons`).
    fn send_feedback(
        &self,
        ctx: &FetchContext<'_>,
        _feedback_secret: Option<&Secret>,
        item: &FeedbackItem,
    ) -> Result<(), FetchError> {
        let (member, entry) = split_source_id(&item.source_id).ok_or_else(|| {
            FetchError::Config(format!(
                "entry id {:?} is not NCMEC's member-id",
                item.source_id
            ))
        })?;
        let kind = item
            .algorithm
            .as_deref()
            .and_then(fingerprint_type)
            .ok_or_else(|| {
                FetchError::Config(format!(
                    "entry {} has no NCMEC fingerprint type ({:?})",
                    item.source_id, item.algorithm
                ))
            })?;
        let (user, password) = user_password(ctx.secret, "NCMEC")?;
        let base = ctx.base_url.trim_end_matches('/');
        let reason = match (item.verdict, ctx.feedback_reason) {
            (Verdict::Confirmed, _) => None,
            (Verdict::FalsePositive, Some(guid)) => Some(guid.to_string()),
            (Verdict::FalsePositive, None) => {
                let request = ctx
                    .http
                    .get(format!("{base}/v2/feedback/{kind}/reasons"))
                    .basic_auth(user, Some(password));
                let body = get_body(request, false)?;
                let xml = std::str::from_utf8(&body)
                    .map_err(|e| FetchError::Malformed(format!("not UTF-8: {e}")))?;
                let reasons = read_reasons(xml)?;
                match reasons.as_slice() {
                    [(guid, _)] => Some(guid.clone()),
                    [] => {
                        return Err(FetchError::Config(format!(
                            "NCMEC offers no negative feedback reason for {kind}"
                        )))
                    }
                    several => {
                        let listed: Vec<String> =
                            several.iter().map(|(g, n)| format!("{g} ({n})")).collect();
                        return Err(FetchError::Config(format!(
                            "NCMEC offers several negative feedback reasons for {kind}: name one \
                             as the source's feedback_reason: {}",
                            listed.join(", ")
                        )));
                    }
                }
            }
        };
        let mut url =
            reqwest::Url::parse(base).map_err(|e| FetchError::Config(format!("base_url: {e}")))?;
        url.path_segments_mut()
            .map_err(|()| FetchError::Config("base_url cannot take a path".into()))?
            .pop_if_empty()
            .extend([
                "v2",
                "entries",
                &member.to_string(),
                entry,
                &kind,
                "feedback",
            ]);
        let request = ctx
            .http
            .put(url)
            .header("content-type", "application/xml; charset=utf-8")
            .basic_auth(user, Some(password))
            .body(submission(reason.as_deref()));
        send(request)
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

    #[test]
    fn feedback_addresses_the_entry_and_reads_the_reasons() {
        assert_eq!(split_source_id("42-img-2"), Some((42, "img-2")));
        assert_eq!(split_source_id("x-1"), None);
        assert_eq!(split_source_id("42-"), None);
        assert_eq!(fingerprint_type("pdq").as_deref(), Some("PDQ"));
        assert_eq!(fingerprint_type("md5").as_deref(), Some("MD5"));
        assert_eq!(fingerprint_type("sha256"), None);
        let xml = r#"<r xmlns="https://hashsharing.ncmec.org/hashsharing/v2"><availableFeedbackReasons>
            <reason guid="g1" name="One"/><reason guid="g2" name="Two"/></availableFeedbackReasons></r>"#;
        assert_eq!(
            read_reasons(xml).unwrap(),
            [("g1".into(), "One".into()), ("g2".into(), "Two".into())]
        );
        assert!(matches!(
            read_reasons(
                "<r><availableFeedbackReasons><reason name=\"x\"/></availableFeedbackReasons></r>"
            ),
            Err(FetchError::Malformed(_))
        ));
        assert!(matches!(
            read_reasons("<r/>"),
            Err(FetchError::Malformed(_))
        ));
        assert!(submission(Some("a<b")).contains("<guid>a&lt;b</guid>"));
    }
}
