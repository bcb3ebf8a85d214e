"""Reads a test upstream with python-threatexchange's own client for that exchange and prints,
as JSON, every page's records as pytx parsed them, so that server/tests/sources.rs can demand
that pixelprint stored the same.

    python pytx_check.py stopncii BASE_URL 'fetch_key,subscription_key' [--page-size N]
    python pytx_check.py tat BASE_URL 'user:password'

Run with the venv made by scripts/bootstrap.sh (scripts/requirements-exchange.txt).
"""

import argparse
import json
import logging
import sys


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


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("exchange", choices=["stopncii", "tat"])
    parser.add_argument("base_url")
    parser.add_argument("credential")
    parser.add_argument("--page-size", type=int, default=800)
    args = parser.parse_args()
    if args.exchange == "stopncii":
        out = stopncii(args.base_url, args.credential, args.page_size)
    else:
        out = tat(args.base_url, args.credential)
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    sys.exit(main())
