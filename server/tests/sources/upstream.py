"""A local stand-in for a hash-sharing exchange, speaking its wire format over real HTTP, for
server/tests/sources.rs. Standard library only.

    python upstream.py stopncii|tat|ncmec|threatexchange --credential SECRET [--page-size N]

prints `listening on http://127.0.0.1:PORT` and serves:

- the exchange's endpoints (the formats python-threatexchange's clients read; every page the
  tests use is also read by pytx's own client, pytx_check.py);
- `POST /_control/records` (a JSON list: the records, served as given, so malformed ones too),
  `POST /_control/faults` (`{"statuses": [429, 503], "block": false, "delay_ms": 0}`: the next
  requests answer these statuses in turn; `block` answers 503 until cleared; `delay_ms` delays
  every page), `GET /_control/log` (every exchange request: path, query, status, time),
  `POST /_control/clear_log`;
- feedback: NCMEC's `PUT /v2/entries/{member}/{id}/{TYPE}/feedback` and
  `GET /v2/feedback/{TYPE}/reasons` (the reasons `POST /_control/reasons` set, a JSON list of
  `{"guid", "name"}`; one by default), ThreatExchange's reactions `POST /{descriptor_id}/`;
  the log holds their bodies and content types.
"""

import argparse
import html
import json
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from datetime import datetime, timezone
from urllib.parse import parse_qsl, urlencode, urlsplit

LOCK = threading.Lock()
STATE = {"records": [], "statuses": [], "block": False, "delay_ms": 0, "log": [], "tokens": set(),
         "reasons": [{"guid": "3c1a7d2e-0000-4000-8000-000000000001", "name": "Not CSAM"}]}


def query_params(raw_query):
    """The query's parameters; a key holding a URL (pytx's TAT client puts its `next` URL in the
    query) counts by its part after the last `?`."""
    params = {}
    for key, value in parse_qsl(raw_query, keep_blank_values=True):
        params[key.rsplit("?", 1)[-1]] = value
    return params


def stopncii_page(params, headers, credential):
    fetch_key, subscription_key = credential.split(",")[:2]
    if (
        headers.get("x-functions-key") != fetch_key
        or headers.get("Ocp-Apim-Subscription-Key") != subscription_key
    ):
        return 401, {"error": "invalid keys"}
    try:
        start = int(params.get("startTimestamp", "10"))
        size = int(params.get("pageSize", "800"))
    except ValueError:
        return 400, {"error": "bad parameters"}
    token = params.get("nextPageToken", "")
    offset = 0
    if token:
        token_start, _, token_offset = token.partition(":")
        if token_start != str(start) or not token_offset.isdigit():
            return 400, {"error": "invalid nextPageToken"}
        offset = int(token_offset)

    def stamp(r):
        ts = r.get("lastModtimestamp") if isinstance(r, dict) else None
        return ts if isinstance(ts, int) else 0

    with LOCK:
        selected = sorted(
            (r for r in STATE["records"] if stamp(r) >= start),
            key=lambda r: (stamp(r), json.dumps(r, sort_keys=True)),
        )
    page = selected[offset : offset + size]
    more = offset + size < len(selected)
    return 200, {
        "count": len(page),
        "nextPageToken": f"{start}:{offset + size}" if more else None,
        "nextSetTimestamp": (max(stamp(r) for r in selected) + 1) if selected else start,
        "hasMoreRecords": more,
        "hashRecords": page,
    }


def tat_order(r):
    return (float(r.get("updated_on", 0)), int(r.get("id", 0)))


def tat_page(params, headers, base, default_size):
    auth = headers.get("Authorization", "")
    with LOCK:
        valid = auth.startswith("Bearer ") and auth[len("Bearer ") :] in STATE["tokens"]
    if not valid:
        return 401, {"detail": "invalid token"}
    after = params.get("after", "")
    try:
        limit = int(params.get("limit", default_size))
        offset = int(params.get("offset", "0"))
        bound = None
        if after:
            ts, _, rid = after.partition(",")
            bound = (float(ts), int(rid))
    except ValueError:
        return 400, {"detail": "bad parameters"}
    with LOCK:
        selected = sorted(
            (r for r in STATE["records"] if bound is None or tat_order(r) > bound), key=tat_order
        )
    page = selected[offset : offset + limit]
    more = offset + limit < len(selected)
    last = page[-1] if page else None
    return 200, {
        "count": len(selected),
        "next": f"{base}/api/hash-list/v2/all?limit={limit}&offset={offset + limit}" if more else None,
        "previous": None,
        "checkpoint": f"{last['updated_on']},{last['id']}" if last else after,
        "results": page,
    }


NCMEC_TIME = "%Y-%m-%dT%H:%M:%SZ"


def ncmec_time(seconds):
    return datetime.fromtimestamp(seconds, timezone.utc).strftime(NCMEC_TIME)


def ncmec_entry_xml(r):
    """One record (`{"id", "member", "type": "image"|"video", "deleted", "timestamp",
    "classification"?, "fingerprints": {"md5": ...}}`) as NCMEC's XML entry."""
    tag = ("deleted" + r["type"].capitalize()) if r.get("deleted") else r["type"]
    parts = [
        f'<member id="{r["member"]}">Member {r["member"]}</member>',
        f"<timestamp>{ncmec_time(r['timestamp'])}</timestamp>",
        f"<id>{html.escape(r['id'])}</id>",
    ]
    if r.get("classification") and not r.get("deleted"):
        parts.append(f"<classification>{html.escape(r['classification'])}</classification>")
    if r.get("fingerprints") and not r.get("deleted"):
        prints = "".join(f"<{k}>{html.escape(v)}</{k}>" for k, v in r["fingerprints"].items())
        parts.append(f"<fingerprints>{prints}</fingerprints>")
    return f"<{tag}>{''.join(parts)}</{tag}>"


def ncmec_page(params, headers, credential, default_size):
    """`GET /v2/entries`: the records with `from` <= timestamp < `to`, in no order of time (by
    id, as NCMEC's are not), paged by `start` (1-based) and `size` in the `next` path."""
    import base64

    auth = headers.get("Authorization", "")
    expected = "Basic " + base64.b64encode(credential.encode()).decode()
    if auth != expected:
        return 401, "<error>unauthorized</error>"
    try:
        lo = datetime.strptime(params["from"], NCMEC_TIME).replace(tzinfo=timezone.utc).timestamp()
        hi = datetime.strptime(params["to"], NCMEC_TIME).replace(tzinfo=timezone.utc).timestamp()
        start = int(params.get("start", "1"))
        size = int(params.get("size", default_size))
    except (KeyError, ValueError):
        return 400, "<error>bad parameters</error>"
    with LOCK:
        selected = sorted(
            (r for r in STATE["records"] if lo <= r["timestamp"] < hi), key=lambda r: r["id"]
        )
    page = selected[start - 1 : start - 1 + size]
    groups = []
    for plural, kind in (("images", "image"), ("videos", "video")):
        mine = [r for r in page if r["type"] == kind]
        if mine:
            top = ncmec_time(max(r["timestamp"] for r in mine))
            body = "".join(ncmec_entry_xml(r) for r in mine)
            groups.append(f'<{plural} count="{len(mine)}" maxTimestamp="{top}">{body}</{plural}>')
    paging = ""
    if start - 1 + size < len(selected):
        query = urlencode(
            {"from": params["from"], "to": params["to"], "start": start + size, "size": size,
             "max": len(selected)}
        )
        paging = f"<paging><next>{html.escape('/v2/entries?' + query)}</next></paging>"
    xml = (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
        '<queryResult xmlns="https://hashsharing.ncmec.org/hashsharing/v2">'
        f"{''.join(groups)}{paging}</queryResult>"
    )
    return 200, xml


def ncmec_authorized(headers, credential):
    import base64

    expected = "Basic " + base64.b64encode(credential.encode()).decode()
    return headers.get("Authorization", "") == expected


def ncmec_reasons():
    """`GET /v2/feedback/{TYPE}/reasons`, in the shape pytx's `feedback_reasons` reads."""
    with LOCK:
        reasons = list(STATE["reasons"])
    body = "".join(
        f'<reason guid="{html.escape(r["guid"])}" name="{html.escape(r["name"])}"/>'
        for r in reasons
    )
    return 200, (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
        '<feedbackReasons xmlns="https://hashsharing.ncmec.org/hashsharing/v2">'
        f"<availableFeedbackReasons>{body}</availableFeedbackReasons></feedbackReasons>"
    )


def te_page(group, params, base, credential, default_size):
    """`GET /{group}/threat_updates/`: the updates with `last_updated` >= `start_time` by time,
    paged by an `after` cursor; `paging.next` carries the token, as the Graph API's does."""
    if params.get("access_token") != credential:
        return 400, {"error": {"message": "Invalid OAuth access token.", "type": "OAuthException",
                               "code": 190}}
    try:
        start = int(params.get("start_time") or 0)
        limit = int(params.get("limit") or default_size)
        after = params.get("after", "")
        offset = int(after[len("cursor-"):]) if after else 0
        if after and not after.startswith("cursor-"):
            raise ValueError(after)
    except ValueError:
        return 400, {"error": {"message": "bad parameters", "type": "GraphMethodException",
                               "code": 100}}

    def stamp(r):
        try:
            return int(r.get("last_updated"))
        except (TypeError, ValueError):
            return 0

    with LOCK:
        selected = sorted(
            (r for r in STATE["records"] if stamp(r) >= start),
            key=lambda r: (stamp(r), json.dumps(r, sort_keys=True)),
        )
    page = selected[offset : offset + limit]
    body = {"data": page, "paging": {"cursors": {"before": f"cursor-{offset}",
                                                 "after": f"cursor-{offset + limit}"}}}
    if offset + limit < len(selected):
        query = {k: v for k, v in params.items() if k not in ("after",)}
        query["after"] = f"cursor-{offset + limit}"
        body["paging"]["next"] = f"{base}/{group}/threat_updates/?{urlencode(query)}"
    return 200, body


class Handler(BaseHTTPRequestHandler):
    exchange = ""
    credential = ""
    page_size = 5

    def log_message(self, *args):
        pass

    def send_json(self, status, body, extra=()):
        xml = isinstance(body, str)
        data = body.encode() if xml else json.dumps(body).encode()
        self.send_response(status)
        self.send_header("content-type", "application/xml" if xml else "application/json")
        self.send_header("content-length", str(len(data)))
        for k, v in extra:
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)

    def body(self):
        n = int(self.headers.get("content-length", "0"))
        return self.rfile.read(n) if n else b""

    def control(self, method, path):
        if method == "GET" and path == "/_control/log":
            with LOCK:
                return self.send_json(200, list(STATE["log"]))
        if method == "POST" and path == "/_control/clear_log":
            with LOCK:
                STATE["log"].clear()
            return self.send_json(200, {})
        if method == "POST" and path == "/_control/records":
            records = json.loads(self.body())
            with LOCK:
                STATE["records"] = records
            return self.send_json(200, {"records": len(records)})
        if method == "POST" and path == "/_control/reasons":
            reasons = json.loads(self.body())
            with LOCK:
                STATE["reasons"] = reasons
            return self.send_json(200, {"reasons": len(reasons)})
        if method == "POST" and path == "/_control/faults":
            faults = json.loads(self.body())
            with LOCK:
                for key in ("statuses", "block", "delay_ms"):
                    if key in faults:
                        STATE[key] = faults[key]
            return self.send_json(200, {})
        return self.send_json(404, {"error": "no such control"})

    def exchange_request(self, method, url):
        params = query_params(url.query)
        entry = {"method": method, "path": url.path, "query": params, "t": time.time()}
        raw = self.body() if method != "GET" else b""
        parts = url.path.strip("/").split("/")
        if self.exchange in ("ncmec", "threatexchange") and method != "GET":
            entry["body"] = raw.decode("utf-8", "replace")
            entry["content_type"] = self.headers.get("Content-Type")
        with LOCK:
            status = 503 if STATE["block"] else (STATE["statuses"].pop(0) if STATE["statuses"] else None)
            delay = STATE["delay_ms"]
        base = f"http://{self.headers.get('Host')}"
        if status is not None:
            answer = (status, {"error": "fault injected"})
        elif self.exchange == "stopncii" and method == "GET" and url.path.endswith("/FetchHashes"):
            answer = stopncii_page(params, self.headers, self.credential)
        elif self.exchange == "tat" and method == "POST" and url.path == "/token-auth/tcap/":
            form = dict(parse_qsl(raw.decode()))
            if f"{form.get('username')}:{form.get('password')}" != self.credential:
                answer = (400, {"non_field_errors": ["Unable to log in with provided credentials."]})
            else:
                token = f"token-{time.time_ns()}"
                with LOCK:
                    STATE["tokens"].add(token)
                answer = (200, {"token": token, "user": {"username": form["username"]}})
        elif self.exchange == "tat" and method == "GET" and url.path == "/api/hash-list/v2/all":
            answer = tat_page(params, self.headers, base, self.page_size)
        elif self.exchange == "ncmec" and method == "GET" and url.path.endswith("/v2/entries"):
            answer = ncmec_page(params, self.headers, self.credential, self.page_size)
        elif self.exchange == "ncmec" and (
            (method == "PUT" and parts[-1:] == ["feedback"] and "entries" in parts)
            or (method == "GET" and parts[-1:] == ["reasons"] and "feedback" in parts)
        ):
            if not ncmec_authorized(self.headers, self.credential):
                answer = (401, "<error>unauthorized</error>")
            elif method == "GET":
                answer = ncmec_reasons()
            else:
                answer = (200, "<feedbackSubmissionResult/>")
        elif self.exchange == "threatexchange" and method == "POST" and parts[-1].isdigit():
            if params.get("access_token") != self.credential:
                answer = (400, {"error": {"message": "Invalid OAuth access token.",
                                          "type": "OAuthException", "code": 190}})
            else:
                answer = (200, {"success": True})
        elif (
            self.exchange == "threatexchange"
            and method == "GET"
            and url.path.strip("/").endswith("/threat_updates")
        ):
            prefix, _, _ = url.path.strip("/").rpartition("/threat_updates")
            head, _, group = prefix.rpartition("/")
            root = f"{base}/{head}" if head else base
            answer = te_page(group, params, root, self.credential, self.page_size)
        else:
            answer = (404, {"error": "not found"})
        if "access_token" in params:
            entry["query"] = {**params, "access_token": "(given)"}
        entry["status"] = answer[0]
        with LOCK:
            STATE["log"].append(entry)
        # Logged before the delay: a client killed while waiting was still asked this page.
        if delay and answer[0] == 200 and "token-auth" not in url.path:
            time.sleep(delay / 1000)
        extra = [("Retry-After", "1")] if answer[0] == 429 else []
        self.send_json(answer[0], answer[1], extra)

    def handle_any(self, method):
        url = urlsplit(self.path)
        if url.path.startswith("/_control/"):
            return self.control(method, url.path)
        return self.exchange_request(method, url)

    def do_GET(self):
        self.handle_any("GET")

    def do_POST(self):
        self.handle_any("POST")

    def do_PUT(self):
        self.handle_any("PUT")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("exchange", choices=["stopncii", "tat", "ncmec", "threatexchange"])
    parser.add_argument("--credential", required=True)
    parser.add_argument("--page-size", type=int, default=5)
    args = parser.parse_args()
    Handler.exchange = args.exchange
    Handler.credential = args.credential
    Handler.page_size = args.page_size
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    print(f"listening on http://127.0.0.1:{server.server_address[1]}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    sys.exit(main())
