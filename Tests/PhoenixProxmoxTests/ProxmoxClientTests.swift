import Foundation
import PhoenixCore
import PhoenixProxmox
import PhoenixTesting
import Testing

/// The Proxmox client over a scripted transport (PhoenixTesting): what it sends and how it reads
/// answers, without a server. fakepve covers the same client against a real HTTPS server.
@Suite("The Proxmox client over its transport port")
struct ProxmoxClientTests {
    @Test("a 502 is retried and then succeeds; a refused token is final at once")
    func retries() async throws {
        let flaky = ScriptedHTTPTransport { _, index in
            index == 0 ? HTTPResponseMessage(status: 502, reason: "Bad Gateway") : ScriptedHTTPTransport.data("[]")
        }
        let client = ProxmoxClient(endpoint: "https://pve:8006", auth: .token("u@pam!t=s"), transport: flaky, injectedLatency: 0)
        #expect(try await client.guests().isEmpty)
        #expect(flaky.requests.count == 2, "one retry")
        #expect(flaky.requests[0].header("Authorization") == "PVEAPIToken=u@pam!t=s")
        #expect(flaky.requests[0].url == "https://pve:8006/api2/json/cluster/resources?type=vm")

        let refused = ScriptedHTTPTransport { _, _ in HTTPResponseMessage(status: 401, reason: "authentication failure") }
        let denied = ProxmoxClient(endpoint: "https://pve:8006", auth: .token("u@pam!t=wrong"), transport: refused, injectedLatency: 0)
        do throws(ProxmoxError) {
            _ = try await denied.guests()
            Issue.record("a refused token succeeded")
        } catch {
            #expect(error.kind == .unauthorized && error.call == "GET /cluster/resources", "\(error)")
        }
        #expect(refused.requests.count == 1, "never retried")
    }

    @Test("with a ticket, writes carry the CSRF token and reads do not; the password travels only in the sign-in body")
    func ticket() async throws {
        let transport = ScriptedHTTPTransport { request, _ in
            if request.url.hasSuffix("/access/ticket") {
                return ScriptedHTTPTransport.data(#"{"ticket": "PVE:root@pam:T", "CSRFPreventionToken": "csrf-1"}"#)
            }
            return ScriptedHTTPTransport.data("null")
        }
        let client = ProxmoxClient(
            endpoint: "https://pve:8006", auth: .ticket(user: "root@pam", password: "s3cret-pw"), transport: transport, injectedLatency: 0)
        _ = try await client.get("/version")
        _ = try await client.put("/nodes/pve1/lxc/101/config", [("cores", "2")])
        let requests = transport.requests
        #expect(requests.map(\.method) == ["POST", "GET", "PUT"], "one sign-in for both calls")
        #expect(String(decoding: requests[0].body ?? [], as: UTF8.self) == "username=root%40pam&password=s3cret-pw")
        #expect(requests[1].header("Cookie") == "PVEAuthCookie=PVE:root@pam:T" && requests[1].header("CSRFPreventionToken") == nil)
        #expect(requests[2].header("CSRFPreventionToken") == "csrf-1")
        #expect(String(decoding: requests[2].body ?? [], as: UTF8.self) == "cores=2")
        #expect(!requests.dropFirst().contains { $0.url.contains("s3cret") || $0.headers.contains { $0.value.contains("s3cret") } })
    }

    @Test("an API CA file that is not there is said to be missing, with the option that named it, not to be untrusted or not PEM")
    func missingCAFile() throws {
        let directory = try TemporaryDirectory("phoenix-api-ca")
        let path = directory.file("pve-root-ca.pem")
        do throws(ProxmoxError) {
            _ = try ProxmoxClient(endpoint: "https://pve:8006", auth: .token("u@pam!t=s"), caFile: path, caSetting: "--api-ca", injectedLatency: 0)
            Issue.record("a CA file that does not exist was accepted")
        } catch {
            #expect(error.kind == .localFile)
            #expect(error.description == "reading the API's CA: the CA certificate \(path) does not exist on this machine (named by --api-ca)", "\(error)")
        }
        try "not PEM\n".write(toFile: path, atomically: true, encoding: .utf8)
        do throws(ProxmoxError) {
            _ = try ProxmoxClient(endpoint: "https://pve:8006", auth: .token("u@pam!t=s"), caFile: path, caSetting: "$PHOENIX_API_CA", injectedLatency: 0)
            Issue.record("a CA file that is not PEM was accepted")
        } catch {
            #expect(error.description.contains("the CA certificate \(path) is not a PEM certificate file (named by $PHOENIX_API_CA)"), "\(error)")
        }
    }

    @Test("a transport failure and a parameter error name the call; Proxmox's message is kept")
    func errors() async throws {
        let untrusted = ScriptedHTTPTransport { _, _ throws(HTTPTransportError) in throw .tls("certificate verify failed") }
        let client = ProxmoxClient(endpoint: "https://pve:8006", auth: .token("u@pam!t=s"), transport: untrusted, injectedLatency: 0)
        do throws(ProxmoxError) {
            _ = try await client.get("/nodes")
            Issue.record("an untrusted certificate succeeded")
        } catch {
            #expect(error.kind == .tls && error.message == "certificate verify failed", "\(error)")
            #expect(error.call == "GET /nodes" && error.description.hasPrefix("GET /nodes"), "\(error)")
        }
        #expect(untrusted.requests.count == 1, "an untrusted certificate is final at once")

        let refusing = ScriptedHTTPTransport { _, _ in
            HTTPResponseMessage(
                status: 400, reason: "Parameter verification failed.",
                body: Array(
                    #"{"data": null, "message": "Parameter verification failed.\n", "errors": {"memory": "value must have a minimum value of 16"}}"#.utf8))
        }
        let strict = ProxmoxClient(endpoint: "https://pve:8006", auth: .token("u@pam!t=s"), transport: refusing, injectedLatency: 0)
        do throws(ProxmoxError) {
            _ = try await strict.put("/nodes/pve1/lxc/101/config", [("memory", "8")])
            Issue.record("a refused parameter succeeded")
        } catch {
            #expect(error.kind == .invalidParameters(["memory": "value must have a minimum value of 16"]), "\(error)")
            #expect(error.description.contains("PUT /nodes/pve1/lxc/101/config"), "\(error)")
        }
    }
}
