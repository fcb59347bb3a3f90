import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// What the agent hands back to the system when a job has ended and nothing waits: most of an idle
/// agent's resident memory is program code a run touched once (the kinds, the Engine and Proxmox
/// clients, Foundation, measured 40 of 50 MB), and the heap's free space.
///
/// - Code: every private mapping of a file that cannot be written and holds no page of its own
///   (`Anonymous: 0` in /proc/self/smaps, so no relocated or copied page) gets
///   `madvise(MADV_PAGEOUT)` (Linux 5.4): the kernel reclaims the pages no other process maps, and
///   the next run reads the code it needs from the file again (measured in the run after it by
///   scripts/bench-agent.sh). `MADV_DONTNEED`, which keeps them in the page cache, is the
///   fallback on older kernels, and was not enough: each later fault maps up to 16 neighbouring
///   cached pages with it (fault-around), and the idle agent grew back to 36–40 MB in ten minutes
///   where reclaimed pages let it settle at about 24. A mapping with a page of its own is never
///   touched: dropping that page would lose what was written to it.
/// - Heap: glibc's `malloc_trim(0)` returns the free pages of its arenas.
///
/// Android compacts idle apps the same way (`process_madvise` on their file pages).
enum IdleMemory {
    /// What one release did, for the log.
    struct Released: Sendable, Equatable {
        /// The resident memory before and after, in bytes (/proc/self/statm).
        let before: Int
        let after: Int
        /// How many mappings were advised.
        let mappings: Int
    }

    /// Releases what it can; nil where the system has no /proc (nothing is done there).
    static func release() -> Released? {
        #if os(Linux)
            guard let before = residentBytes(), let smaps = readWhole("/proc/self/smaps") else { return nil }
            var advised = 0
            for mapping in releasableMappings(smaps: smaps) {
                guard let start = UnsafeMutableRawPointer(bitPattern: mapping.lowerBound) else { continue }
                let length = Int(mapping.upperBound - mapping.lowerBound)
                if madvise(start, length, pageOut) == 0 || madvise(start, length, MADV_DONTNEED) == 0 { advised += 1 }
            }
            _ = mallocTrim?(0)
            return Released(before: before, after: residentBytes() ?? before, mappings: advised)
        #else
            return nil
        #endif
    }

    /// The address ranges of the mappings that can be released, from /proc/<pid>/smaps: private,
    /// not writable, backed by a file (a path, not `[vdso]`), no page of their own, none locked.
    static func releasableMappings(smaps: String) -> [Range<UInt>] {
        var ranges: [Range<UInt>] = []
        var candidate: Range<UInt>?
        var ownPages = false
        func close() {
            if let range = candidate, !ownPages { ranges.append(range) }
            candidate = nil
            ownPages = false
        }
        for line in smaps.split(separator: "\n", omittingEmptySubsequences: true) {
            let fields = line.split(separator: " ", omittingEmptySubsequences: true)
            if let first = fields.first, first.contains("-"), !first.hasSuffix(":"), fields.count >= 5 {
                close()
                let bounds = first.split(separator: "-").compactMap { UInt($0, radix: 16) }
                let permissions = fields[1]
                let path = fields.count >= 6 ? fields[5] : ""
                guard bounds.count == 2, bounds[0] < bounds[1], permissions.count == 4, path.hasPrefix("/") else { continue }
                let flags = Array(permissions)
                guard flags[1] == "-", flags[3] == "p" else { continue }
                candidate = bounds[0]..<bounds[1]
            } else if candidate != nil, fields.count >= 2, ["Anonymous:", "Locked:", "Swap:"].contains(fields[0]), fields[1] != "0" {
                ownPages = true
            }
        }
        close()
        return ranges
    }

    /// `MADV_PAGEOUT` (Swift's Glibc module may not declare it).
    static let pageOut: Int32 = 21

    #if os(Linux)
        /// glibc's `malloc_trim`, looked up once (Swift's Glibc module does not declare it).
        static let mallocTrim: (@convention(c) (Int) -> Int32)? = {
            guard let program = dlopen(nil, RTLD_NOW), let symbol = dlsym(program, "malloc_trim") else { return nil }
            return unsafeBitCast(symbol, to: (@convention(c) (Int) -> Int32).self)
        }()
    #endif

    /// A file of /proc read to its end. Such a file says its size is 0, and reading it as a
    /// regular file (`String(contentsOfFile:)`) stops after the first chunk: smaps held five of
    /// its three hundred mappings that way.
    static func readWhole(_ path: String) -> String? {
        let descriptor = open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else { return nil }
        defer { close(descriptor) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 64 << 10)
        while true {
            let count = chunk.withUnsafeMutableBytes { read(descriptor, $0.baseAddress, $0.count) }
            if count < 0 && errno == EINTR { continue }
            guard count > 0 else { return count == 0 ? String(decoding: bytes, as: UTF8.self) : nil }
            bytes += chunk[..<count]
        }
    }

    /// This process's resident memory in bytes (the second field of /proc/self/statm, in pages).
    static func residentBytes() -> Int? {
        guard let statm = readWhole("/proc/self/statm") else { return nil }
        let fields = statm.split(separator: " ")
        guard fields.count >= 2, let pages = Int(fields[1]) else { return nil }
        return pages * Int(sysconf(Int32(_SC_PAGESIZE)))
    }
}
