"""A webhook receiver for bench/events.sh: answers 204 at once and appends, for each
delivery, the milliseconds from the event's time (the body's `timestamp`, the change's
commit) to its arrival. Loopback only; stops when killed."""
import json
import sys
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

port, log = int(sys.argv[1]), open(sys.argv[2], "a", buffering=1)


class Handler(BaseHTTPRequestHandler):
    def do_POST(self):
        arrived = datetime.now().astimezone()
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        sent = datetime.fromisoformat(body["timestamp"].replace("Z", "+00:00"))
        log.write(f"{body['type']} {(arrived - sent).total_seconds() * 1000:.2f}\n")
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args):
        pass


ThreadingHTTPServer(("127.0.0.1", port), Handler).serve_forever()
