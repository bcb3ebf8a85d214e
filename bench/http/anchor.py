#!/usr/bin/env python3
"""The anchor of the HTTP benchmark: a matching service built the way the reference system
(hasher-matcher-actioner) builds it — Flask, FAISS IndexBinaryMultiHash(256, 16, 16) searched at
threshold 31, one hash per request — answering the same `POST /v1/match` JSON as pixelprint-server
so that the same load generator drives both.

Usage (served by gunicorn, loaded once before the worker starts):
  HASHES=path/to/hashes.bin gunicorn --preload -w 1 --threads 8 -b 127.0.0.1:PORT \
      --chdir bench/http anchor:app
HASHES holds N x 32 bytes of PDQ hashes; entry ids are 1 + row numbers, as after a fresh import.
"""
import os

import faiss
import numpy as np
from flask import Flask, abort, jsonify, request

THRESHOLD = 31

codes = np.fromfile(os.environ["HASHES"], dtype=np.uint8).reshape(-1, 32)
index = faiss.IndexBinaryMultiHash(256, 16, 16)
index.add(codes)
# Exact by pigeonhole: 16 substrings of 16 bits, radius 31 leaves one of them within 1 bit.
index.nflip = THRESHOLD // 16
del codes

app = Flask(__name__)


@app.post("/v1/match")
def match():
    body = request.get_json(force=True)
    items = body.get("items") or []
    if len(items) != 1:
        abort(400, "one item per request")
    query = np.frombuffer(bytes.fromhex(items[0]["pdq"]), dtype=np.uint8).reshape(1, 32)
    # FAISS keeps distances < radius: ask for THRESHOLD + 1 to include THRESHOLD.
    lims, dist, ids = index.range_search(query, THRESHOLD + 1)
    matches = [
        {"entry_id": str(int(i) + 1), "distance": int(d)}
        for d, i in sorted(zip(dist[lims[0]:lims[1]], ids[lims[0]:lims[1]]))
    ]
    return jsonify({"results": [{"matches": matches}]})


@app.get("/readyz")
def ready():
    return jsonify({"ready": True})
