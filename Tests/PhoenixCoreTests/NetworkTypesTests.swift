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
