"""The counter as a Python Lambda function behind an API Gateway HTTP API (payload 2.0).

The store client is built once per instance, at init, outside the handler: the original
study found that this matters. LATENCY_STORE names the store (see counters.py), the same
variable the Rust function reads.

Handler: handler.handler
"""

import json
import logging
import os
import time
from pathlib import Path

from botocore.exceptions import BotoCoreError, ClientError

from counters import CounterError, open_counter

log = logging.getLogger()
log.setLevel(logging.INFO)

COUNTER = open_counter(os.environ["LATENCY_STORE"])



def _page():
    """The app's page, read once at init: page.html beside this file (the deployed zip
    carries it, scripts/build-lambdas), else the repository's copy above it (a local run
    from a clone). API Gateway sends `GET /` to the function, as for the Rust one."""
    here = Path(__file__).resolve().parent
    for directory in [here, *here.parents][:6]:
        for candidate in (directory / "page.html", directory / "crates" / "app" / "src" / "page.html"):
            if candidate.is_file():
                return candidate.read_text(encoding="utf-8")
    raise FileNotFoundError(f"page.html is neither beside {here} nor in the repository above it")


PAGE = _page()

# Time left for the last attempt and the answer when the retries give up (see incr).
GIVE_UP_BEFORE_TIMEOUT_S = 0.3


def _json(status, body, headers=None):
    return {
        "statusCode": status,
        "headers": {"content-type": "application/json", **(headers or {})},
        "body": json.dumps(body),
    }


def handler(event, context):
    http = event.get("requestContext", {}).get("http", {})
    method = http.get("method", "GET")
    path = event.get("rawPath") or http.get("path") or "/"
    if path == "/healthz":
        return _json(200, {"status": "pass"})
    if path == "/" and method in ("GET", "HEAD"):
        return {"statusCode": 200, "headers": {"content-type": "text/html; charset=utf-8"}, "body": PAGE}
    if path != "/hits":
        return _json(404, {"error": f"no route for {path}"})
    if method != "GET":
        return _json(405, {"error": f"method {method} not allowed on /hits"}, {"allow": "GET"})
    # Stop retrying a contended write a little before Lambda's timeout, with a 503.
    deadline = time.monotonic() + context.get_remaining_time_in_millis() / 1000 - GIVE_UP_BEFORE_TIMEOUT_S
    try:
        count = COUNTER.incr(deadline)
    except (CounterError, ClientError, BotoCoreError) as err:
        # The detail goes to the log (CloudWatch); the body never carries internals.
        log.warning("store failed: %s", err)
        return _json(503, {"error": "the counter store is unavailable"})
    return {"statusCode": 200, "headers": {"content-type": "text/plain"}, "body": str(count)}
