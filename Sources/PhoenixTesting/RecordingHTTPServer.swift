import Foundation
import PhoenixCore
import PhoenixEngine

/// A stand-in for the servers the agent reports to — a git forge's commit-status API, ntfy, Slack —
/// none of which runs on these machines: Python's http.server on loopback, answering every request
/// 201 with `{}` and recording it (method, path, headers, body) one JSON object a line.
public final class RecordingHTTPServer: Sendable {
    public let port = FreePort.allocate()
    public let directory: TemporaryDirectory
    private let server: RunningProcess

    static let script = """
        import http.server, json, sys
        port, log = int(sys.argv[1]), sys.argv[2]
        class Recorder(http.server.BaseHTTPRequestHandler):
            def record(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length).decode("utf-8", "replace") if length else ""
                entry = {"method": self.command, "path": self.path, "headers": dict(self.headers), "body": body}
                with open(log, "a") as out:
                    out.write(json.dumps(entry) + "\\n")
                self.send_response(201)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"{}")
            do_POST = do_PUT = do_GET = record
            def log_message(self, *args):
                pass
        http.server.ThreadingHTTPServer(("127.0.0.1", port), Recorder).serve_forever()
        """

    public init() throws {
        directory = try TemporaryDirectory("phoenix-recorder")
        try directory.write("recorder.py", Self.script)
        guard let python = TestPaths.program("python3") else { throw WaitTimedOut(description: "python3 is not on PATH") }
        server = try RunningProcess(python, [directory.file("recorder.py"), String(port), directory.file("requests.jsonl")], logFile: directory.file("log"))
        let port = self.port
        let server = self.server
        try waitFor("the recording HTTP server on port \(port)", detail: { server.log }) {
            Probe.connects(to: IPv4Address("127.0.0.1")!, port: port, timeout: 0.5)
        }
    }

    public var url: String { "http://127.0.0.1:\(port)" }

    /// Every request received so far, in order.
    public var requests: [[String: Any]] {
        let text = (try? String(contentsOfFile: directory.file("requests.jsonl"), encoding: .utf8)) ?? ""
        return text.split(separator: "\n").compactMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
    }

    public func stop() { server.stop() }
}
