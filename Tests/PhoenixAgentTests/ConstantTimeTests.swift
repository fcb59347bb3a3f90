import PhoenixAgent
import Testing

@Suite("Constant-time comparison")
struct ConstantTimeTests {
    @Test("equal bytes compare equal; a different byte, a prefix or a longer value does not")
    func equality() {
        let secret = Array("correct horse battery staple".utf8)
        #expect(ConstantTime.equal(secret, secret))
        #expect(ConstantTime.equal([UInt8](), [UInt8]()))
        #expect(!ConstantTime.equal(secret, Array("correct horse battery stapler".utf8)))
        #expect(!ConstantTime.equal(secret, Array("correct horse battery stapld".utf8)))
        #expect(!ConstantTime.equal(secret, Array(secret.prefix(5))))
        #expect(!ConstantTime.equal(secret, [UInt8]()))
    }

    @Test("digests are equal only with every byte and the same length")
    func digests() {
        let digest: [UInt8] = (0..<32).map { UInt8($0) }
        var last = digest
        last[31] ^= 1
        var first = digest
        first[0] ^= 0x80
        #expect(ConstantTime.equalDigests(digest, digest))
        #expect(!ConstantTime.equalDigests(digest, last))
        #expect(!ConstantTime.equalDigests(digest, first))
        #expect(!ConstantTime.equalDigests(digest, Array(digest.prefix(31))))
        #expect(!ConstantTime.equalDigests([], digest))
    }

    @Test("hexadecimal reads in either case and round-trips; anything else is not hexadecimal")
    func hex() {
        #expect(ConstantTime.bytes(hex: "00ff10Ab") == [0, 255, 16, 171])
        #expect(ConstantTime.hex([0, 255, 16, 171]) == "00ff10ab")
        #expect(ConstantTime.bytes(hex: "") == [])
        for bad in ["0", "0g", "zz", "0x00", "ab cd"] { #expect(ConstantTime.bytes(hex: bad) == nil, "\(bad)") }
    }
}
