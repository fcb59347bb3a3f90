import Foundation
import PhoenixCore

/// Network checks run after a change goes live: real DNS queries, TCP connects and HTTP GETs.
public enum Probe {
    /// Asks `server:port` for the A records of every name, all queries in flight at once on one UDP
    /// socket, re-sending unanswered ones until `timeout`. Returns the addresses found per name
    /// (empty for NXDOMAIN or no answer).
    public static func resolve(_ names: [String], server: IPv4Address, port: Int, timeout: TimeInterval) -> [String: [IPv4Address]] {
        let socket = POSIX.socket(datagram: true)
        guard socket >= 0 else { return [:] }
        defer { close(socket) }
        var address = socketAddress(server, port)
        var pending = Dictionary(uniqueKeysWithValues: names.enumerated().map { (UInt16(truncatingIfNeeded: $0.offset + 1), $0.element) })
        var answers: [String: [IPv4Address]] = [:]
        let deadline = Date().addingTimeInterval(timeout)
        var attempt = 0
        while !pending.isEmpty && Date() < deadline {
            for (id, name) in pending {
                let query = DNSMessage.query(id: id, name: name)
                _ = withUnsafePointer(to: &address) { pointer in
                    pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                        sendto(socket, query, query.count, 0, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
                    }
                }
            }
            let window = min(deadline.timeIntervalSinceNow, 0.2 * Double(1 << min(attempt, 3)))
            let roundEnd = Date().addingTimeInterval(max(window, 0.01))
            while !pending.isEmpty, Date() < roundEnd {
                var poller = pollfd(fd: socket, events: Int16(POLLIN), revents: 0)
                let ready = poll(&poller, 1, Int32(max(1, roundEnd.timeIntervalSinceNow * 1000)))
                guard ready > 0 else { break }
                var buffer = [UInt8](repeating: 0, count: 1500)
                let count = recv(socket, &buffer, buffer.count, 0)
                guard count > 0, let reply = DNSMessage.parse(Array(buffer.prefix(count))), let name = pending[reply.id] else { continue }
                answers[name] = reply.addresses
                pending[reply.id] = nil
            }
            attempt += 1
        }
        return answers
    }

    /// The IPv4 addresses of a host name: asked of the estate's own dnsmasq first (the names phoenix
    /// serves; `dns_server` listening on `server:port`), then of the system's resolver. Empty when
    /// neither knows it.
    public static func addresses(of name: String, dnsServer: (IPv4Address, Int)?, timeout: TimeInterval) -> [IPv4Address] {
        if let address = IPv4Address(name) { return [address] }
        if let (server, port) = dnsServer, let found = resolve([name], server: server, port: port, timeout: timeout)[name], !found.isEmpty {
            return found
        }
        var hints = addrinfo()
        hints.ai_family = AF_INET
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        var list: UnsafeMutablePointer<addrinfo>?
        guard getaddrinfo(name, nil, &hints, &list) == 0, let first = list else { return [] }
        defer { freeaddrinfo(list) }
        var found: [IPv4Address] = []
        var entry: UnsafeMutablePointer<addrinfo>? = first
        while let current = entry {
            if let socketAddress = current.pointee.ai_addr, current.pointee.ai_family == AF_INET {
                let raw = socketAddress.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { UInt32(bigEndian: $0.pointee.sin_addr.s_addr) }
                let address = IPv4Address(raw)
                if !found.contains(address) { found.append(address) }
            }
            entry = current.pointee.ai_next
        }
        return found
    }

    /// Whether a TCP connection to `host:port` opens within `timeout`.
    public static func connects(to host: IPv4Address, port: Int, timeout: TimeInterval) -> Bool {
        let socket = POSIX.socket(datagram: false)
        guard socket >= 0 else { return false }
        defer { close(socket) }
        _ = fcntl(socket, F_SETFL, fcntl(socket, F_GETFL) | O_NONBLOCK)
        if connect(socket, to: host, port: port) == 0 { return true }
        guard errno == EINPROGRESS else { return false }
        var poller = pollfd(fd: socket, events: Int16(POLLOUT), revents: 0)
        guard poll(&poller, 1, Int32(timeout * 1000)) == 1 else { return false }
        var error: Int32 = 0
        var length = socklen_t(MemoryLayout<Int32>.size)
        getsockopt(socket, SOL_SOCKET, SO_ERROR, &error, &length)
        return error == 0
    }

    /// A plain-HTTP GET (Traefik's API on its dashboard entry point); the body when the status is 200.
    public static func httpGet(host: IPv4Address, port: Int, path: String, timeout: TimeInterval) -> String? {
        guard let response = http(host: host, port: port, path: path, hostHeader: "\(host):\(port)", timeout: timeout), response.status == 200 else {
            return nil
        }
        return response.body
    }

    public struct HTTPResponse: Sendable {
        public let status: Int
        /// Header names lower-cased.
        public let headers: [String: String]
        public let body: String
    }

    /// One plain-HTTP/1.1 GET with the given Host header; nil when nothing answers in time.
    public static func http(host: IPv4Address, port: Int, path: String, hostHeader: String, timeout: TimeInterval) -> HTTPResponse? {
        let socket = POSIX.socket(datagram: false)
        guard socket >= 0 else { return nil }
        defer { close(socket) }
        var limit = timeval(tv_sec: Int(timeout), tv_usec: Int((timeout - timeout.rounded(.down)) * 1_000_000))
        setsockopt(socket, SOL_SOCKET, SO_RCVTIMEO, &limit, socklen_t(MemoryLayout<timeval>.size))
        setsockopt(socket, SOL_SOCKET, SO_SNDTIMEO, &limit, socklen_t(MemoryLayout<timeval>.size))
        guard connect(socket, to: host, port: port) == 0 else { return nil }
        let request = Array("GET \(path) HTTP/1.1\r\nHost: \(hostHeader)\r\nConnection: close\r\nAccept: application/json\r\n\r\n".utf8)
        guard send(socket, request, request.count, Int32(MSG_NOSIGNAL)) == request.count else { return nil }
        var response: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65_536)
        while true {
            let count = recv(socket, &buffer, buffer.count, 0)
            if count <= 0 { break }
            response += buffer.prefix(count)
        }
        let text = String(decoding: response, as: UTF8.self)
        guard let split = text.range(of: "\r\n\r\n") else { return nil }
        let lines = text[..<split.lowerBound].split(separator: "\r\n")
        guard let statusLine = lines.first, statusLine.hasPrefix("HTTP/1."), let status = Int(statusLine.split(separator: " ").dropFirst().first ?? "")
        else { return nil }
        var headers: [String: String] = [:]
        for line in lines.dropFirst() {
            guard let colon = line.firstIndex(of: ":") else { continue }
            headers[line[..<colon].lowercased()] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
        }
        let body = String(text[split.upperBound...])
        return HTTPResponse(status: status, headers: headers, body: headers["transfer-encoding"]?.lowercased() == "chunked" ? dechunk(body) : body)
    }

    private static func socketAddress(_ host: IPv4Address, _ port: Int) -> sockaddr_in {
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr = in_addr(s_addr: host.value.bigEndian)
        return address
    }

    private static func connect(_ socket: Int32, to host: IPv4Address, port: Int) -> Int32 {
        var address = socketAddress(host, port)
        return withUnsafePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { POSIX.connect(socket, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
    }

    private static func dechunk(_ body: String) -> String {
        var bytes = Array(body.utf8)[...]
        var result: [UInt8] = []
        while let lineEnd = bytes.firstIndex(of: UInt8(ascii: "\r")) {
            guard let size = Int(String(decoding: bytes[bytes.startIndex..<lineEnd], as: UTF8.self), radix: 16), size > 0 else { break }
            let start = lineEnd + 2
            guard start + size <= bytes.endIndex else { break }
            result += bytes[start..<(start + size)]
            bytes = bytes[min(bytes.endIndex, start + size + 2)...]
        }
        return String(decoding: result, as: UTF8.self)
    }
}

/// The two DNS messages phoenix needs: an A query, and the A records of a reply (RFC 1035).
enum DNSMessage {
    static func query(id: UInt16, name: String) -> [UInt8] {
        var message: [UInt8] = [UInt8(id >> 8), UInt8(id & 0xFF), 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0]
        for label in name.split(separator: ".") {
            message.append(UInt8(label.utf8.count))
            message += label.utf8
        }
        message += [0, 0, 1, 0, 1]
        return message
    }

    static func parse(_ message: [UInt8]) -> (id: UInt16, addresses: [IPv4Address])? {
        guard message.count >= 12 else { return nil }
        let id = UInt16(message[0]) << 8 | UInt16(message[1])
        let questions = Int(message[4]) << 8 | Int(message[5])
        let answers = Int(message[6]) << 8 | Int(message[7])
        var offset = 12
        func skipName() -> Bool {
            while offset < message.count {
                let length = Int(message[offset])
                if length & 0xC0 == 0xC0 {
                    offset += 2
                    return offset <= message.count
                }
                offset += 1
                if length == 0 { return true }
                offset += length
            }
            return false
        }
        for _ in 0..<questions {
            guard skipName() else { return nil }
            offset += 4
        }
        var addresses: [IPv4Address] = []
        for _ in 0..<answers {
            guard skipName(), offset + 10 <= message.count else { return nil }
            let type = Int(message[offset]) << 8 | Int(message[offset + 1])
            let length = Int(message[offset + 8]) << 8 | Int(message[offset + 9])
            offset += 10
            guard offset + length <= message.count else { return nil }
            if type == 1 && length == 4 {
                let value = message[offset..<(offset + 4)].reduce(UInt32(0)) { $0 << 8 | UInt32($1) }
                addresses.append(IPv4Address(value))
            }
            offset += length
        }
        return (id, addresses)
    }
}
