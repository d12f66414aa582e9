"""An HTTP server on a free port of 127.0.0.1 in a thread of the test, for
the stand-ins and relays the tests put between Warren and a provider."""

import threading
from http.server import ThreadingHTTPServer


class LoopbackServer:
    """Serves handler_base (a BaseHTTPRequestHandler class) with the owner
    reachable from each request as self.<attr>."""

    server = None
    thread = None
    port = None

    def serve(self, handler_base, attr):
        handler = type(handler_base.__name__, (handler_base,), {attr: self})
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever,
                                       kwargs={"poll_interval": 0.05}, daemon=True)
        self.thread.start()
        return self

    def shutdown(self):
        """Stops serving; False when the thread did not end."""
        if self.server is None:
            return True
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)
        self.server = None
        return not self.thread.is_alive()
