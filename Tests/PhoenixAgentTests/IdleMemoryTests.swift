import Foundation
import Testing

@testable import PhoenixAgent

/// What an idle agent hands back: the mappings chosen from smaps, and a release in this very
/// process (the test binary's own code and Foundation's), which must go on working after it.
@Suite("Idle memory")
struct IdleMemoryTests {
    /// A relocated table (pointers the loader wrote into a read-only-after-relocation page): such a
    /// page is the process's own, and dropping it would lose the loader's writes.
    static let table: [String: Int] = ["one": 1, "two": 2, "three": 3]

    @Test("only private, read-only mappings of a file with no page of their own are released")
    func chosenMappings() {
        let smaps = """
            55d97566d000-55d977447000 r-xp 00000000 00:2e 123 /usr/bin/phoenix
            Size:              30568 kB
            Rss:               17496 kB
            Anonymous:             0 kB
            Locked:                0 kB
            55d977448000-55d97751f000 r--p 01dd0000 00:2e 123 /usr/bin/phoenix
            Rss:                 860 kB
            Anonymous:           860 kB
            55d97751f000-55d977700000 rw-p 01ea7000 00:2e 123 /usr/bin/phoenix
            Anonymous:             0 kB
            7f0000000000-7f0000100000 r--p 00000000 00:2e 456 /usr/lib/locale/C.utf8/LC_CTYPE
            Anonymous:             0 kB
            Locked:                0 kB
            7f0000200000-7f0000300000 r-xp 00000000 00:2e 789 /usr/lib/libmlocked.so
            Anonymous:             0 kB
            Locked:               64 kB
            7f0000400000-7f0000500000 r--s 00000000 00:2e 790 /dev/shm/shared
            Anonymous:             0 kB
            7f0000600000-7f0000700000 rw-p 00000000 00:00 0
            Anonymous:           512 kB
            7ffd00000000-7ffd00002000 r-xp 00000000 00:00 0 [vdso]
            Anonymous:             0 kB
            """
        let ranges = IdleMemory.releasableMappings(smaps: smaps)
        #expect(ranges == [0x55d9_7566_d000..<0x55d9_7744_7000, 0x7f00_0000_0000..<0x7f00_0010_0000])
    }

    @Test("a release in this process lowers its resident memory, and code and relocated data work after it")
    func releaseHere() throws {
        // Touch a good deal of code first: Foundation's JSON, the table above.
        let encoded = try JSONEncoder().encode(Self.table)
        let smaps = try #require(IdleMemory.readWhole("/proc/self/smaps"))
        let candidates = IdleMemory.releasableMappings(smaps: smaps)
        // The test binary, the Swift runtime, Foundation, libc …: dozens, each read to its end.
        #expect(candidates.count > 10, "\(candidates.count) of \(smaps.split(separator: "\n").count) lines")
        let released = try #require(IdleMemory.release(), "Linux has /proc/self/smaps and statm")
        #expect(released.mappings >= candidates.count / 2, "\(released)")
        #expect(released.after < released.before, "\(released)")
        // The process runs on: code mapped again from the page cache, the relocated table intact.
        #expect(try JSONDecoder().decode([String: Int].self, from: encoded) == Self.table)
        #expect(Self.table["two"] == 2)
    }
}
