"""Drives PyPI threatexchange's StopNCII client against a pixelprint server.

Run by server/tests/exchange.rs with the venv scripts/bootstrap.sh makes. The client is used
unchanged: `StopNCIIAPI` (the REST wrapper) and `StopNCIISignalExchangeAPI` (the exchange
interface Hasher-Matcher-Actioner runs), pointed at the server with `base_url_override`.
Prints one JSON object on stdout for the Rust test to check.

Environment: PIXELPRINT_URL (http://127.0.0.1:PORT), PIXELPRINT_PLATFORM_KEY (a key with the
`exchange` scope, sent as both of the client's keys).

Commands:
  fetch [START]              fetch_hashes_iter from START (default: the client's default)
  fetch-page START SIZE      one fetch_hashes call with page_size SIZE
  feedback SIGNAL HASH VALUE submit_feedback
  submit SIGNAL HASH         submit_hash (reported as Blocked)
  exchange-fetch [CHECKPOINT_TIME]
                             StopNCIISignalExchangeAPI.fetch_iter from a checkpoint
  configured-fetch           StopNCIISignalExchangeAPI.for_collab with the credentials pytx
                             reads from TX_STOPNCII_KEYS (docs/exchange.md's configuration)
"""

import json
import os
import sys
import time

from threatexchange.exchanges.clients.stopncii import api
from threatexchange.exchanges.collab_config import CollaborationConfigBase
from threatexchange.exchanges.impl import stop_ncii_api
from threatexchange.signal_type.pdq.signal import PdqSignal
from threatexchange.signal_type.md5 import VideoMD5Signal


def client() -> api.StopNCIIAPI:
    key = os.environ["PIXELPRINT_PLATFORM_KEY"]
    base = os.environ["PIXELPRINT_URL"].rstrip("/") + "/v1/stopncii"
    return api.StopNCIIAPI(
        subscription_key=key,
        fetch_function_key=key,
        additional_function_keys={
            api.StopNCIIEndpoint.SubmitHashes: key,
            api.StopNCIIEndpoint.SubmitFeedback: key,
        },
        base_url_override=base,
    )


def record_json(r: api.StopNCIIHashRecord) -> dict:
    return {
        "signalType": r.signalType.value,
        "hashValue": r.hashValue,
        "hashStatus": r.hashStatus.value,
        "caseNumbers": {k: v.value for k, v in r.caseNumbers.items()},
        "lastModtimestamp": r.lastModtimestamp,
        "feedbacks": [
            {"value": f.feedbackValue.value, "source": f.source, "tags": sorted(f.tags)}
            for f in r.CSPFeedbacks
        ],
    }


def fetch(args: list) -> dict:
    start = int(args[0]) if args else api.StopNCIIAPI.DEFAULT_START_TIME
    pages = []
    records = {}
    for page in client().fetch_hashes_iter(start_timestamp=start):
        pages.append(
            {
                "count": page.count,
                "hasMoreRecords": page.hasMoreRecords,
                "nextSetTimestamp": page.nextSetTimestamp,
                "nextPageToken": page.nextPageToken,
            }
        )
        for r in page.hashRecords:
            # Later records replace earlier ones, as the client's documentation says.
            records[f"{r.signalType.value}:{r.hashValue}"] = record_json(r)
    return {
        "pages": pages,
        "records": records,
        "checkpoint": pages[-1]["nextSetTimestamp"],
    }


def fetch_page(args: list) -> dict:
    page = client().fetch_hashes(start_timestamp=int(args[0]), page_size=int(args[1]))
    return {
        "count": page.count,
        "hasMoreRecords": page.hasMoreRecords,
        "nextPageToken": page.nextPageToken,
        "records": [record_json(r) for r in page.hashRecords],
    }


def signal(name: str) -> api.StopNCIISignalType:
    return api.StopNCIISignalType(name)


def feedback(args: list) -> dict:
    sig, value, fb = args
    client().submit_feedback(
        signal(sig), value, api.StopNCIICSPFeedbackValue(fb), tags={"reviewed"}
    )
    return {"ok": True}


def submit(args: list) -> dict:
    sig, value = args
    client().submit_hash(signal(sig), value)
    return {"ok": True}


def collab() -> CollaborationConfigBase:
    return CollaborationConfigBase(
        name="pixelprint", api=stop_ncii_api.StopNCIISignalExchangeAPI.get_name(), enabled=True
    )


def exchange_fetch(args: list) -> dict:
    exchange = stop_ncii_api.StopNCIISignalExchangeAPI(collab(), client())
    return run_fetch(exchange, args)


def configured_fetch(args: list) -> dict:
    exchange = stop_ncii_api.StopNCIISignalExchangeAPI.for_collab(collab())
    return run_fetch(exchange, args)


def run_fetch(exchange, args: list) -> dict:
    checkpoint = None
    if args:
        checkpoint = stop_ncii_api.StopNCIICheckpoint(int(args[0]), int(time.time()))
    deltas = []
    last = None
    for delta in exchange.fetch_iter([PdqSignal, VideoMD5Signal], checkpoint):
        deltas.append(
            {
                f"{k[0]}:{k[1]}": (None if v is None else str(v))
                for k, v in delta.updates.items()
            }
        )
        last = delta.checkpoint
    return {
        "deltas": deltas,
        "checkpoint": last.get_progress_timestamp() if last else None,
    }


COMMANDS = {
    "fetch": fetch,
    "fetch-page": fetch_page,
    "feedback": feedback,
    "submit": submit,
    "exchange-fetch": exchange_fetch,
    "configured-fetch": configured_fetch,
}

if __name__ == "__main__":
    print(json.dumps(COMMANDS[sys.argv[1]](sys.argv[2:])))
