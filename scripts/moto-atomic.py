"""moto's server, with each request handled under one lock.

moto checks an S3 conditional write's precondition (If-Match, If-None-Match: *) and then
writes, with nothing held in between. Under its threaded server, two PUTs with the same
If-Match can both succeed, which real S3 never allows: the lab's atomic S3 counter then
shows duplicate values that are the test double's, not the store's. Serialising the
application (connections stay threaded and keep-alive) makes every precondition check and
its write one step, as in S3. moto holds the GIL for nearly all of a request anyway, so
little throughput is lost.

scripts/services installs this as moto-venv/bin/moto_server_atomic; it takes the same
arguments as moto_server (-H HOST -p PORT).
"""

import threading

import moto.server


def _serialised(app):
    lock = threading.Lock()

    def handle(environ, start_response):
        with lock:
            # The body is produced inside the lock, so a streamed response cannot
            # interleave with another request's write.
            return list(app(environ, start_response))

    return handle


_run_simple = moto.server.run_simple


def _run_simple_serialised(host, port, application, **kwargs):
    _run_simple(host, port, _serialised(application), **kwargs)


moto.server.run_simple = _run_simple_serialised

if __name__ == "__main__":
    moto.server.main()
