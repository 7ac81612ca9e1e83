"""moto's server, with DynamoDB requests applied one at a time.

moto evaluates a condition expression and then writes, with no lock between the two, on a
multi-threaded server: two concurrent conditional writes (or transactions) can both pass a condition
only one of them should. Real DynamoDB applies each write and each transaction atomically, and the
quota and exactly-once tests rely on that, so DynamoDB calls are serialised here. S3 requests stay
concurrent (parts upload in parallel).

    python moto_server.py HOST PORT
"""

import os
import sys
import threading

from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app
from werkzeug.serving import run_simple


def main() -> None:
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
