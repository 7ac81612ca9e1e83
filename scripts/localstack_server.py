"""LocalStack's runtime (host mode, no Docker), with a shutdown that cannot hang.

LocalStack 4.9's hypercorn server stops its asyncio loop from a second thread with a bare
`loop.stop()`, which only sets a flag: if the loop is already asleep in `select()` with nothing
left to wake it, SIGINT leaves the process running for good (seen here after a single request,
about one run in five). Waking the loop with `call_soon_threadsafe` makes it see the flag, so
SIGINT stops it in a few seconds every time. Settings come from the environment
(scripts/stack.sh sets them).

    python localstack_server.py
"""

from localstack.runtime.main import main
from localstack.runtime.server.hypercorn import HypercornRuntimeServer

_shutdown = HypercornRuntimeServer.shutdown


def _shutdown_and_wake(self: HypercornRuntimeServer) -> None:
    _shutdown(self)
    try:
        self.loop.call_soon_threadsafe(self.loop.stop)
    except RuntimeError:  # the loop has already closed
        pass


HypercornRuntimeServer.shutdown = _shutdown_and_wake

if __name__ == "__main__":
    main()
