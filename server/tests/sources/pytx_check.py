"""Reads a test upstream with python-threatexchange's own client for that exchange and prints,
as JSON, every page's records as pytx parsed them, so that server/tests/sources.rs can demand
that pixelprint stored the same.

    python pytx_check.py stopncii BASE_URL 'fetch_key,subscription_key' [--page-size N]
    python pytx_check.py tat BASE_URL 'user:password'
    python pytx_check.py ncmec BASE_URL 'user:password' [--page-size N]
    python pytx_check.py threatexchange BASE_URL 'APPID|TOKEN' --privacy-group N [--page-size N]

With `--feedback JSON` it sends one reviewer's verdict with pytx's own client instead (the test
reads what the upstream received): NCMEC `{"esp_id", "entry_id", "type": "PDQ", "verdict":
"confirmed"|"false_positive", "reason"?}` (`submit_upvote`, or `submit_feedback` with a
downvote), ThreatExchange `{"descriptor_id", "verdict"}` (`react_upvote_threat_descriptor`, or
`react_to_threat_descriptor` with `DISAGREE_WITH_TAGS`).

Run with the venv made by scripts/bootstrap.sh (scripts/requirements-exchange.txt).
"""

import argparse
import json
import logging
import os
import sys
import time
import types


class Count(logging.Handler):
    def __init__(self):
        super().__init__(logging.ERROR)
        self.n = 0

    def emit(self, record):
        self.n += 1


def stopncii(base, credential, page_size):
    from threatexchange.exchanges.clients.stopncii import api

    fetch_key, subscription_key = credential.split(",")[:2]
    client = api.StopNCIIAPI(subscription_key, fetch_key, base_url_override=base)
    errors = Count()
    logging.getLogger().addHandler(errors)
    pages, records = 0, []
    token, start = "", api.StopNCIIAPI.DEFAULT_START_TIME
    # fetch_hashes_iter, with the page size the test asks for.
    while True:
        page = client.fetch_hashes(page_size=page_size, start_timestamp=start, next_page=token)
        pages += 1
        for r in page.hashRecords:
            tags = sorted({t for f in r.CSPFeedbacks for t in f.tags})
            records.append(
                {
                    "signal_type": r.signalType.value,
                    "hash": r.hashValue,
                    "status": r.hashStatus.value,
                    "tags": tags,
                }
            )
        token = page.nextPageToken or ""
        if not page.hasMoreRecords:
            break
    return {"pages": pages, "skipped": errors.n, "records": records,
            "next_set_timestamp": page.nextSetTimestamp}


def tat(base, credential):
    from threatexchange.exchanges.clients.techagainstterrorism import api

    user, _, password = credential.partition(":")
    api.TATHashListAPI.BASE_URL = base.rstrip("/") + "/"
    client = api.TATHashListAPI(user, password)
    pages, records, checkpoint = 0, [], ""
    for page in client.fetch_hashes_iter(""):
        pages += 1
        checkpoint = page.checkpoint or checkpoint
        for r in page.results:
            records.append(
                {
                    "id": r.id,
                    "algorithm": r.algorithm,
                    "hash": r.hash_digest,
                    "deleted": r.deleted,
                    "ideology": r.ideology,
                    "file_type": r.file_type,
                }
            )
    return {"pages": pages, "skipped": 0, "records": records, "checkpoint": checkpoint}


def ncmec(base, credential):
    """The client's `get_entries_iter` over the range pytx's `fetch_iter` starts with (from the
    beginning to 5 s behind the clock); each fingerprint pixelprint stores checked by pytx's
    signal type (`_get_conversion`: `pdq` as PDQ, `md5` as an MD5)."""
    from threatexchange.exchanges.clients.ncmec import hash_api as api
    from threatexchange.signal_type.md5 import VideoMD5Signal
    from threatexchange.signal_type.pdq.signal import PdqSignal

    # pytx formats `from`/`to` in local time with a `Z`: make local time UTC.
    os.environ["TZ"] = "UTC"
    time.tzset()
    user, _, password = credential.partition(":")
    # NCMECEnvironment only names NCMEC's hosts; the client reads its `value`.
    client = api.NCMECHashAPI(user, password, types.SimpleNamespace(value=base.rstrip("/")))
    pages, records, skipped, starts = 0, [], 0, []
    end = int(time.time()) - 5
    for page in client.get_entries_iter(start_timestamp=0, end_timestamp=end):
        pages += 1
        info = page.get_next_info()
        starts.append(info.start if info else None)
        for u in page.updates:
            for name, signal in (("pdq", PdqSignal), ("md5", VideoMD5Signal)):
                if name in u.fingerprints and not u.deleted:
                    try:
                        signal.validate_signal_str(u.fingerprints[name])
                    except Exception:
                        skipped += 1
            records.append(
                {
                    "key": f"{u.member_id}-{u.id}",
                    "type": u.entry_type.value,
                    "deleted": u.deleted,
                    "classification": u.classification,
                    "fingerprints": u.fingerprints,
                }
            )
    return {"pages": pages, "skipped": skipped, "records": records, "next_starts": starts}


def threatexchange(base, credential, privacy_group, page_size):
    """The client's `get_threat_updates` cursor with the fields pytx's `fetch_iter` asks for, each
    update read as `FBThreatExchangeIndicatorRecord.from_threatexchange_json` reads it. An update
    pytx cannot read (a field missing) is counted as skipped (pytx's fetch_iter would stop)."""
    from threatexchange.exchanges.clients.fb_threatexchange.api import ThreatExchangeAPI
    from threatexchange.exchanges.clients.fb_threatexchange.threat_updates import (
        ThreatUpdateJSON,
    )
    from threatexchange.exchanges.impl.fb_threatexchange_api import (
        FBThreatExchangeIndicatorRecord,
    )

    client = ThreatExchangeAPI(credential, endpoint_override=base.rstrip("/"))
    cursor = client.get_threat_updates(
        privacy_group,
        page_size=page_size,
        fields=FBThreatExchangeIndicatorRecord.te_threat_updates_fields(),
        decode_fn=ThreatUpdateJSON,
    )
    pages, records, skipped, highest = 0, [], 0, 0
    for batch in cursor:
        pages += 1
        for u in batch:
            try:
                key = (u.threat_type, u.indicator)
                highest = max(highest, u.time)
                record = FBThreatExchangeIndicatorRecord.from_threatexchange_json(
                    client.app_id, u
                )
            except (KeyError, TypeError, ValueError):
                skipped += 1
                continue
            tags = sorted({t for o in record.opinions for t in o.tags}) if record else []
            records.append(
                {"type": key[0], "indicator": key[1], "deleted": record is None, "tags": tags}
            )
    return {"pages": pages, "skipped": skipped, "records": records, "update_time": highest}


def feedback(exchange, base, credential, f):
    if exchange == "ncmec":
        from threatexchange.exchanges.clients.ncmec import hash_api as api

        user, _, password = credential.partition(":")
        client = api.NCMECHashAPI(user, password, types.SimpleNamespace(value=base.rstrip("/")))
        kind = api.FingerprintType(f["type"])
        if f["verdict"] == "confirmed":
            client.submit_upvote(f["esp_id"], f["entry_id"], kind)
        else:
            client.submit_feedback(
                f["esp_id"], f["entry_id"], kind, api.FeedbackType.downvote, f.get("reason")
            )
    elif exchange == "threatexchange":
        from threatexchange.exchanges.clients.fb_threatexchange.api import ThreatExchangeAPI

        client = ThreatExchangeAPI(credential, endpoint_override=base.rstrip("/"))
        if f["verdict"] == "confirmed":
            client.react_upvote_threat_descriptor(f["descriptor_id"])
        else:
            client.react_to_threat_descriptor(f["descriptor_id"], "DISAGREE_WITH_TAGS")
    else:
        raise SystemExit(f"no feedback check for {exchange}")
    return {"sent": True}


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("exchange", choices=["stopncii", "tat", "ncmec", "threatexchange"])
    parser.add_argument("base_url")
    parser.add_argument("credential")
    parser.add_argument("--page-size", type=int, default=800)
    parser.add_argument("--privacy-group", type=int)
    parser.add_argument("--feedback")
    args = parser.parse_args()
    if args.feedback:
        out = feedback(args.exchange, args.base_url, args.credential, json.loads(args.feedback))
    elif args.exchange == "stopncii":
        out = stopncii(args.base_url, args.credential, args.page_size)
    elif args.exchange == "ncmec":
        out = ncmec(args.base_url, args.credential)
    elif args.exchange == "threatexchange":
        out = threatexchange(args.base_url, args.credential, args.privacy_group, args.page_size)
    else:
        out = tat(args.base_url, args.credential)
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    sys.exit(main())
