"""A stand-in for a notification service (ntfy, Slack, a generic JSON webhook) in the lab: answers
every POST with 200 and appends what it received, one JSON object a line, to a file.

Usage: notify-recorder.py PORT FILE   (listens on 127.0.0.1 only)
"""
import json
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

port, path = int(sys.argv[1]), sys.argv[2]


class Recorder(BaseHTTPRequestHandler):
    def do_POST(self):
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length).decode("utf-8", "replace")
        try:
            document = json.loads(body)
        except ValueError:
            document = body
        with open(path, "a") as handle:
            handle.write(json.dumps({"path": self.path, "content_type": self.headers.get("Content-Type"), "body": document}) + "\n")
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format, *args):
        sys.stderr.write("notify-recorder: " + (format % args) + "\n")


ThreadingHTTPServer(("127.0.0.1", port), Recorder).serve_forever()
