"""moto's server, with DynamoDB requests applied one at a time.

moto evaluates a condition expression and then writes, with no lock between the two, on a
multi-threaded server: two concurrent conditional writes (or transactions) can both pass a condition
only one of them should. Real DynamoDB applies each write and each transaction atomically, and the
quota and exactly-once tests rely on that, so DynamoDB calls are serialised here. S3 requests stay
concurrent (parts upload in parallel).

ListMultipartUploads answers each upload's real initiation time instead of moto's fixed date in
2010: the cleanup only takes an upload older than the longest upload lifetime for an orphan, so with
the fixed date a cleanup running beside an initialize (the soak test) could abort a multipart upload
whose record was still being written. Real S3 reports the real time.

    python moto_server.py HOST PORT
"""

import datetime
import os
import sys
import threading

import moto.s3.models
import moto.s3.responses

from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app
from werkzeug.serving import run_simple


def report_real_initiation_times() -> None:
    fake = moto.s3.models.FakeMultipart
    original = fake.__init__

    def init(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        original(self, *args, **kwargs)
        now = datetime.datetime.now(datetime.timezone.utc)
        self.initiated_iso = now.strftime("%Y-%m-%dT%H:%M:%S.000Z")

    fake.__init__ = init
    fixed = "<Initiated>2010-11-10T20:48:33.000Z</Initiated>"
    template = moto.s3.responses.S3_ALL_MULTIPARTS
    assert fixed in template, "moto's ListMultipartUploads template changed"
    moto.s3.responses.S3_ALL_MULTIPARTS = template.replace(
        fixed, "<Initiated>{{ upload.initiated_iso }}</Initiated>"
    )


def main() -> None:
    report_real_initiation_times()
    host, port = sys.argv[1], int(sys.argv[2])
    os.environ.setdefault("MOTO_PORT", str(port))  # as moto.server does
    app = DomainDispatcherApplication(create_backend_app)
    dynamodb = threading.Lock()

    def serialised(environ, start_response):
        if environ.get("HTTP_X_AMZ_TARGET", "").startswith("DynamoDB_"):
            with dynamodb:
                # Drain the response inside the lock: the write happens while it is produced.
                return list(app(environ, start_response))
        return app(environ, start_response)

    run_simple(host, port, serialised, threaded=True)


if __name__ == "__main__":
    main()
