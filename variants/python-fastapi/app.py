"""The counter app in Python: FastAPI + uvicorn, as the original study's EC2 and Fargate rows ran it.

A comparison subject for `latency serve`, with the same HTTP contract:
  GET /         the page (the same file `latency serve` embeds)
  GET /hits     200 text/plain, the new count
  GET /healthz  200 {"status":"pass"}
  errors        JSON {"error": "..."}: 404, 405 (with Allow), 503 when the store fails

The counter is a file (the Fargate + EFS row's store). `incr` is atomic across processes
and threads: it holds an exclusive flock on the counter file itself for the whole
read-increment-write, and fsyncs before answering. A missing file is created at 0 when the
app starts; a file that vanishes or stops holding a number later is an error (503), never a
reset to 0.

Run:  LATENCY_COUNTER_FILE=/abs/path python app.py --listen 127.0.0.1:0
It binds the address it is given (port 0 included) and prints one line,
`listening on http://ADDR`, once the socket is bound, as `latency serve` does.
"""

import argparse
import fcntl
import logging
import os
import socket
import sys
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, PlainTextResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

log = logging.getLogger("latency-fastapi")

# The page: LATENCY_PAGE, else page.html beside this file (the deployed zip carries it),
# else the repository's copy (running from a clone).
_BESIDE = Path(__file__).resolve().with_name("page.html")
PAGE_PATH = Path(
    os.environ.get(
        "LATENCY_PAGE",
        _BESIDE if _BESIDE.is_file() else Path(__file__).resolve().parents[2] / "crates" / "app" / "src" / "page.html",
    )
)
COUNTER_PATH = Path(os.environ.get("LATENCY_COUNTER_FILE", "/tmp/latency-fastapi-hits"))


class CounterError(Exception):
    """The counter file is missing or does not hold a count."""


class FileCounter:
    """A count kept in one file, safe across processes (flock) and durable (fsync)."""

    def __init__(self, path: Path):
        if not path.is_absolute():
            raise ValueError(f"the counter file must be an absolute path, not {path}")
        self.path = path
        # Created once, at start-up; after that a missing file is an error.
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            if os.fstat(fd).st_size == 0:
                os.write(fd, b"0")
                os.fsync(fd)
        finally:
            os.close(fd)

    def incr(self) -> int:
        try:
            fd = os.open(self.path, os.O_RDWR | os.O_NOFOLLOW)
        except FileNotFoundError as err:
            raise CounterError(f"counter file {self.path} is missing") from err
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            text = os.read(fd, 32).strip()
            if not text.isdigit():
                raise CounterError(f"counter file {self.path} does not hold a count")
            value = int(text) + 1
            data = str(value).encode()
            os.pwrite(fd, data, 0)
            os.ftruncate(fd, len(data))
            os.fsync(fd)
            return value
        finally:
            os.close(fd)  # closing releases the lock


counter = FileCounter(COUNTER_PATH)
page = PAGE_PATH.read_text(encoding="utf-8")
app = FastAPI(openapi_url=None, docs_url=None, redoc_url=None)


@app.get("/", response_class=HTMLResponse)
def index() -> str:
    return page


@app.get("/hits", response_class=PlainTextResponse)
def hits() -> PlainTextResponse:
    try:
        return PlainTextResponse(str(counter.incr()))
    except (CounterError, OSError) as err:
        # The detail goes to the log; a 5xx body never carries internals.
        log.warning("store failed: %s", err)
        return JSONResponse({"error": "the counter store is unavailable"}, status_code=503)


@app.get("/healthz")
def healthz() -> dict:
    return {"status": "pass"}


@app.exception_handler(StarletteHTTPException)
def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
    if exc.status_code == 404:
        message = f"no route for {request.url.path}"
    elif exc.status_code == 405:
        message = f"method {request.method} not allowed on {request.url.path}"
    else:
        message = str(exc.detail)
    return JSONResponse({"error": message}, status_code=exc.status_code, headers=exc.headers)


@app.exception_handler(RequestValidationError)
def invalid_request(request: Request, exc: RequestValidationError) -> JSONResponse:
    return JSONResponse({"error": "malformed request"}, status_code=400)


def main() -> None:
    parser = argparse.ArgumentParser(description="The counter app on FastAPI + uvicorn.")
    parser.add_argument("--listen", default="0.0.0.0:8000", help="address to bind; port 0 picks one")
    args = parser.parse_args()
    host, _, port = args.listen.rpartition(":")
    if not host or not port.isdigit():
        parser.error(f"--listen must be HOST:PORT, not {args.listen!r}")
    import uvicorn  # imported here so that importing this module stays cheap

    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host.strip("[]"), int(port)))
    # Listening before the address is printed: a client that connects at once waits in
    # the backlog until uvicorn accepts, instead of being refused.
    sock.listen(2048)
    bound = sock.getsockname()
    print(f"listening on http://{host}:{bound[1]}", flush=True)
    # Keep idle connections longer than a load balancer does (an ALB's default idle
    # timeout is 60 s), so the balancer never reuses a connection the server just closed.
    config = uvicorn.Config(app, log_level="warning", access_log=False, timeout_keep_alive=65)
    uvicorn.Server(config).run(sockets=[sock])


if __name__ == "__main__":
    main()
