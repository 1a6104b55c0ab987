"""A static range server for breached-password tests and benchmarks: GET /range/<PREFIX>
answers <dir>/<PREFIX>.txt (404 when missing), after <delay> seconds.

    python3 range_server.py PORT DIR DELAY
"""
import http.server, os, sys, time
port, root, delay = int(sys.argv[1]), sys.argv[2], float(sys.argv[3])
class Ranges(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def do_GET(self):
        time.sleep(delay)
        prefix = self.path.rsplit("/", 1)[-1].upper()
        path = os.path.join(root, prefix + ".txt")
        if len(prefix) != 5 or not os.path.isfile(path):
            self.send_response(404)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        with open(path, "rb") as f:
            body = f.read()
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *args):
        pass
class Server(http.server.ThreadingHTTPServer):
    request_queue_size = 256
Server(("127.0.0.1", port), Ranges).serve_forever()
