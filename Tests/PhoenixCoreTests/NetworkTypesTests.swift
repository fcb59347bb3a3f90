import Testing

@testable import PhoenixCore

/// The byte-level parsers behind every address, CIDR and port list the loader accepts.
@Suite("Network value parsers")
struct NetworkTypesTests {
    @Test(
        "IPv4 addresses: four decimal octets, nothing else",
        arguments: [
            ("10.0.0.1", UInt32(0x0A00_0001)), ("0.0.0.0", 0), ("255.255.255.255", 0xFFFF_FFFF), ("172.16.100.20", 0xAC10_6414),
        ])
    func validAddresses(text: String, value: UInt32) {
        #expect(IPv4Address(text)?.value == value)
        #expect(IPv4Address(text)?.description == text)
    }

    @Test(
        "IPv4 addresses that are not",
        arguments: [
            "", "10.0.0", "10.0.0.1.2", "10.0.0.256", "10.0.0.01", "00.0.0.1", "10..0.1", ".10.0.0.1", "10.0.0.1.", "10.0.0.1a",
            "10.0.0.-1", "10.0.0.1 ", " 10.0.0.1", "1000.0.0.1", "10.0.0.0/24", "١٠.0.0.1",
        ])
    func invalidAddresses(text: String) {
        #expect(IPv4Address(text) == nil)
    }

    @Test(
        "IPv6 addresses: every RFC 4291 text form, written back in the one RFC 5952 form",
        arguments: [
            ("::1", "::1"), ("0:0::1", "::1"), ("0:0:0:0:0:0:0:1", "::1"), ("::", "::"), ("0::0", "::"),
            ("FD00::A:5", "fd00::a:5"), ("fd00:0000:0000:0000:0000:0000:0000:0005", "fd00::5"), ("2001:DB8::0:1", "2001:db8::1"),
            ("2001:db8:0:0:1:0:0:1", "2001:db8::1:0:0:1"), ("2001:db8:0:1:1:1:1:1", "2001:db8:0:1:1:1:1:1"), ("1::", "1::"),
            ("1:2:3:4:5:6:7::", "1:2:3:4:5:6:7:0"), ("::2:3:4:5:6:7:8", "0:2:3:4:5:6:7:8"), ("fe80::1:2:3:4", "fe80::1:2:3:4"),
            ("::ffff:10.0.0.1", "::ffff:10.0.0.1"), ("::FFFF:a00:1", "::ffff:10.0.0.1"), ("64:ff9b::192.0.2.33", "64:ff9b::c000:221"),
        ])
    func validIPv6(text: String, canonical: String) throws {
        let address = try #require(IPv6Address(text))
        #expect(address.description == canonical)
        #expect(IPv6Address(canonical) == address, "the canonical form reads back as the same address")
        #expect(IPv6Address(bytes: address.bytes) == address)
    }

    @Test(
        "IPv6 addresses that are not",
        arguments: [
            "", ":", ":::", "1:2:3:4:5:6:7", "1:2:3:4:5:6:7:8:9", "1::2::3", ":1::2", "1::2:", "1:2:3:4:5:6:7:8::", "::1:2:3:4:5:6:7:8",
            "12345::1", "g::1", "fe80::1%eth0", "[::1]", "::1 ", " ::1", "1.2.3.4::", "::1.2.3", "::256.0.0.1", "::1.2.3.4:5", "1:2:3:4:5:6:7:1.2.3.4",
            "::-1", "app.lab.test",
        ])
    func invalidIPv6(text: String) {
        #expect(IPv6Address(text) == nil)
    }

    @Test("IP addresses of either family: one set, IPv4-mapped IPv6 as its IPv4 address, bytes as X.509 has them")
    func eitherFamily() throws {
        #expect(IPAddress("10.0.0.1") == .v4(try #require(IPv4Address("10.0.0.1"))))
        #expect(IPAddress("::ffff:10.0.0.1") == IPAddress("10.0.0.1"), "X.509 encoders write a mapped address as four bytes")
        #expect(Set([IPAddress("0:0::1"), IPAddress("::1"), IPAddress("0000::0001")]).count == 1)
        #expect(IPAddress("::1") != IPAddress("127.0.0.1"))
        #expect(IPAddress("10.0.0.1")?.bytes == [10, 0, 0, 1])
        #expect(IPAddress("::1")?.bytes == [UInt8](repeating: 0, count: 15) + [1])
        #expect(IPAddress(bytes: [UInt8](repeating: 0, count: 10) + [0xFF, 0xFF, 10, 0, 0, 1]) == IPAddress("10.0.0.1"))
        #expect(IPAddress(bytes: [1, 2, 3]) == nil)
        let sorted = ["fd00::1", "10.0.0.2", "::1", "10.0.0.10"].compactMap(IPAddress.init).sorted().map(\.description)
        #expect(sorted == ["10.0.0.2", "10.0.0.10", "::1", "fd00::1"], "IPv4 first, each by value")
        #expect(IPAddress("fd00::zz") == nil && IPAddress("10.0.0") == nil)
    }

    @Test("CIDR networks")
    func networks() {
        #expect(IPv4Network("10.0.0.0/24")?.description == "10.0.0.0/24")
        #expect(IPv4Network("10.0.0.7/0")?.prefixLength == 0)
        #expect(IPv4Network("10.0.0.7/32")?.prefixLength == 32)
        #expect(IPv4Network("10.1.2.0/24")?.firstHost.description == "10.1.2.1")
        for bad in ["10.0.0.0", "10.0.0.0/", "10.0.0.0/33", "10.0.0.0/2a", "10.0.0.0/24/1", "10.0.0/24", "/24", "10.0.0.0/-1", "10.0.0.0/100"] {
            #expect(IPv4Network(bad) == nil, "\(bad) is not a network")
        }
    }

    @Test("port lists keep ports, ranges and service names, and drop blanks around items")
    func portLists() {
        #expect(EstateLoader.portList("80") == "80")
        #expect(EstateLoader.portList("80, 443") == "80,443")
        #expect(EstateLoader.portList(" 8000:8010 ,ssh") == "8000:8010,ssh")
        #expect(EstateLoader.portList("65535") == "65535")
        for bad in ["", "0", "65536", "80,", "80;443", "8000:8010:8020", "http$(x)", "-ssh", "80 443", "123456"] {
            #expect(EstateLoader.portList(bad) == nil, "\(bad) is not a port list")
        }
    }

    @Test("firewall addresses: addresses, CIDRs, ranges, lists, aliases and ipsets")
    func firewallAddresses() {
        for good in ["10.0.0.1", "10.0.0.0/24", "10.0.0.1-10.0.0.9", "10.0.0.1,10.0.1.0/24", "+management", "dc/office", "+guest/admins", "lan_net"] {
            #expect(EstateLoader.isFirewallAddress(good), "\(good) is an address")
        }
        for bad in ["", "10.0.0.1-", "10.0.0.1-10.0.0.9-10.0.0.10", "10.0.0.1,", "10.0.0.300", "+", "dc/", "a b", "x;rm", "10.0.0.0/24 "] {
            #expect(!EstateLoader.isFirewallAddress(bad), "\(bad) is not an address")
        }
    }

    @Test("DNS names: letter-digit-hyphen labels, lower-cased")
    func dnsNames() {
        #expect(DNSName("Grafana.Lab.Example.NET")?.text == "grafana.lab.example.net")
        #expect(DNSName("a")?.text == "a")
        #expect(DNSName("x-1.y2")?.text == "x-1.y2")
        #expect(DNSName(String(repeating: "a", count: 63) + ".b") != nil)
        #expect(DNSName("*.lab.test", allowWildcard: true)?.text == "*.lab.test")
        #expect(DNSName("*.lab.test")?.isWildcard == nil)
        let tooLong = Array(repeating: String(repeating: "a", count: 60), count: 5).joined(separator: ".")
        for bad in [
            "", ".", "a.", ".a", "a..b", "-a", "a-", "a-.b", "a.-b", "a_b", "a b", "a;b", "a$(x)", "é.test", "a\nb", "*.", "*", "a.*.b",
            String(repeating: "a", count: 64), tooLong,
        ] {
            #expect(DNSName(bad, allowWildcard: true) == nil, "\(bad) is not a DNS name")
        }
        let domain = DNSName("lab.test")!
        #expect(DNSName("web")?.qualified(in: domain)?.text == "web.lab.test")
        #expect(
            DNSName(String(repeating: "a", count: 63) + "." + String(repeating: "b", count: 63) + "." + String(repeating: "c", count: 63))?
                .qualified(in: DNSName(String(repeating: "d", count: 63))!) == nil)
    }
}
