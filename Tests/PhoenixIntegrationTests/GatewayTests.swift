import Foundation
import PhoenixCore
import PhoenixTesting
import Testing

/// An HTTPS backend standing in for Traefik: Python's http.server behind TLS, answering with its name and the Host header.
func startHTTPSBackend(port: Int, certificates: TestCertificates, name: String, in work: TemporaryDirectory) throws -> RunningProcess {
    let script = """
        import http.server, ssl, sys
        port, cert, key, body = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                data = (body + " host=" + self.headers.get("Host", "")).encode()
                self.send_response(200)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
            def log_message(self, *args):
                pass
        server = http.server.ThreadingHTTPServer(("127.0.0.1", port), Handler)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(cert, key)
        server.socket = context.wrap_socket(server.socket, server_side=True)
        server.serve_forever()
        """
    let python = try #require(TestPaths.program("python3"))
    return try RunningProcess(python, ["-c", script, String(port), certificates.cert, certificates.key, name], logFile: work.file("\(name).log"))
}

/// The rendered gateway in a real nginx (Debian's nginx with libnginx-mod-stream) on loopback ports.
/// A Python HTTPS server stands in for Traefik behind it.
@Suite("The gateway in a real nginx", .serialized, .needs(.nginx, .curl, .python3, .openssl))
struct GatewayTests {
    @Test("passes nginx -t, redirects HTTP, serves the ACME webroot, proxies HTTPS with verification and streams the mesh port")
    func routes() throws {
        let nginx = try realProgram("nginx")
        let curl = try realProgram("curl")
        let work = try TemporaryDirectory("phoenix-nginx")
        let certificates = try TestCertificates(in: work)
        let ports = (
            http: FreePort.allocate(), https: FreePort.allocate(), stream: FreePort.allocate(), websecure: FreePort.allocate(), mesh: FreePort.allocate()
        )
        let estate = try PatchedEstate(
            hypervisor: { root in
                var phoenix = root["phoenix"] as! [String: Any]
                phoenix["gateway"] = [
                    "http_listen": "127.0.0.1:\(ports.http)", "https_listen": "127.0.0.1:\(ports.https)", "stream_listen": "127.0.0.1:\(ports.stream)",
                    "cert_file": certificates.cert, "key_file": certificates.key, "ca_file": certificates.ca,
                    "acme_webroot": work.file("www"), "site_file": work.file("site.conf"), "stream_file": work.file("stream.conf"),
                ]
                phoenix["traefik"] = ["entrypoints": ["websecure": "127.0.0.1:\(ports.websecure)", "mesh": "127.0.0.1:\(ports.mesh)"]]
                root["phoenix"] = phoenix
            },
            containers: { configs in
                var traefik = configs["102"] as! [String: Any]
                traefik["network_config"] = ["name": "eth0", "ip": "127.0.0.1/8"]
                configs["102"] = traefik
            })
        let (_, output) = try estate.render([.gateway])
        try install(try output.file(work.file("site.conf")))
        try install(try output.file(work.file("stream.conf")))
        try work.write("www/.well-known/acme-challenge/token-123", "acme-proof")

        // The wrapper stands in for the gateway guest's nginx.conf, which includes conf.d and stream.d.
        let logs = work.file("logs")
        try FileManager.default.createDirectory(atPath: logs, withIntermediateDirectories: true)
        try work.write(
            "nginx.conf",
            """
            load_module /usr/lib/nginx/modules/ngx_stream_module.so;
            daemon off;
            master_process on;
            worker_processes 1;
            pid \(work.file("nginx.pid"));
            error_log \(logs)/error.log info;
            events { worker_connections 64; }
            http {
                access_log \(logs)/access.log;
                client_body_temp_path \(work.path)/body; proxy_temp_path \(work.path)/proxy; fastcgi_temp_path \(work.path)/fastcgi;
                uwsgi_temp_path \(work.path)/uwsgi; scgi_temp_path \(work.path)/scgi;
                include \(work.file("site.conf"));
            }
            stream { include \(work.file("stream.conf")); }
            """)
        let arguments = ["-c", work.file("nginx.conf"), "-p", work.path + "/", "-e", "\(logs)/error.log"]
        let test = try Command.run(nginx, ["-t"] + arguments)
        #expect(test.status == 0, "nginx -t: \(test.stderr)")

        let websecure = try startHTTPSBackend(port: ports.websecure, certificates: certificates, name: "websecure", in: work)
        defer { websecure.stop() }
        let mesh = try startHTTPSBackend(port: ports.mesh, certificates: certificates, name: "mesh", in: work)
        defer { mesh.stop() }
        let server = try RunningProcess(nginx, arguments, logFile: work.file("nginx.out"))
        defer { server.stop() }

        let host = "grafana.lab.example.net"
        func curlBody(_ extra: [String]) throws -> CommandResult {
            try Command.run(curl, ["-s", "--max-time", "5", "--cacert", certificates.ca] + extra)
        }
        #expect(
            try waitUntil { try curlBody(["--resolve", "\(host):\(ports.https):127.0.0.1", "https://\(host):\(ports.https)/"]).stdout.hasPrefix("websecure") },
            "nginx did not proxy: \(server.log) \((try? String(contentsOfFile: "\(logs)/error.log", encoding: .utf8)) ?? "")")
        let proxied = try curlBody(["--resolve", "\(host):\(ports.https):127.0.0.1", "https://\(host):\(ports.https)/dashboard"])
        #expect(proxied.stdout == "websecure host=\(host)", "the Host header reaches Traefik unchanged")

        let redirect = try Command.run(
            curl, ["-s", "-o", "/dev/null", "-w", "%{http_code} %{redirect_url}", "-H", "Host: \(host)", "http://127.0.0.1:\(ports.http)/x?y=1"])
        #expect(redirect.stdout == "301 https://\(host)/x?y=1")
        let acme = try Command.run(curl, ["-s", "-H", "Host: \(host)", "http://127.0.0.1:\(ports.http)/.well-known/acme-challenge/token-123"])
        #expect(acme.stdout == "acme-proof")

        // One connection can time out while the whole suite loads two cores: a few tries, and what the last one said.
        var streamed = CommandResult(status: -1, stdout: "", stderr: "")
        #expect(
            try waitUntil(timeout: 30) {
                streamed = try curlBody(["--resolve", "\(host):\(ports.stream):127.0.0.1", "https://\(host):\(ports.stream)/"])
                return streamed.stdout == "mesh host=\(host):\(ports.stream)"
            }, "the stream port passes TLS through to the mesh entry point: curl exit \(streamed.status), \(streamed.stdout) \(streamed.stderr)")
    }
}
