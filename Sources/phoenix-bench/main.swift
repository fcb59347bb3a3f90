import Foundation
import PhoenixCore
import PhoenixTesting

/// `phoenix-bench [guests rules stacks certificates] [iterations]`: generates a synthetic estate in
/// memory, then times validate + render of every stage, and each phase on its own
/// (release build: `swift run -c release phoenix-bench`).
/// `phoenix-bench --write DIR [guests rules stacks certificates]` writes the estate to `DIR/etc` and
/// `DIR/stacks` instead, so the `phoenix` binary itself can be timed on it.
let arguments = CommandLine.arguments.dropFirst().compactMap { Int($0) }
let writeDirectory = CommandLine.arguments.firstIndex(of: "--write").flatMap {
    CommandLine.arguments.indices.contains($0 + 1) ? CommandLine.arguments[$0 + 1] : nil
}
let shape = arguments.count >= 4 ? Array(arguments.prefix(4)) : [1_000, 10_000, 200, 500]
let iterations = arguments.count >= 5 ? arguments[4] : 5

func peakResidentKB() -> Int {
    let status = (try? String(contentsOfFile: "/proc/self/status", encoding: .utf8)) ?? ""
    let line = status.split(separator: "\n").first { $0.hasPrefix("VmHWM:") } ?? ""
    return Int(line.split(separator: " ").dropFirst().first ?? "0") ?? 0
}

func seconds(since start: UInt64) -> Double { Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9 }

let estate = SyntheticEstate(guests: shape[0], rules: shape[1], stacks: shape[2], certificates: shape[3])
let sources = estate.sources()
if let writeDirectory {
    // The synthetic file names are relative: `etc/<name>` for configuration, `stacks/<name>/...`.
    let files =
        [sources.hypervisor, sources.lxc, sources.vm, sources.stacksConfig, sources.certificateManifest].compactMap { $0 }
        + sources.stackDirectories.compactMap(\.compose)
    for file in files {
        let path = "\(writeDirectory)/\(file.name)"
        try FileManager.default.createDirectory(atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        guard FileManager.default.createFile(atPath: path, contents: Data(file.bytes)) else {
            print("cannot write \(path)")
            exit(1)
        }
    }
    print("wrote \(files.count) files under \(writeDirectory): phoenix validate --config-dir \(writeDirectory)/etc --stacks-dir \(writeDirectory)/stacks")
    exit(0)
}
let inputBytes = [sources.hypervisor, sources.lxc!, sources.vm!, sources.stacksConfig!, sources.certificateManifest!].map(\.bytes.count).reduce(0, +)
var totals: [Double] = []
var phases: [String: [Double]] = [:]
var fileCount = 0
var renderedBytes = 0
for _ in 0..<iterations {
    let start = DispatchTime.now().uptimeNanoseconds
    let result = EstateLoader().load(sources)
    guard let loaded = result.estate, result.report.isValid else {
        print("the synthetic estate is invalid: \(result.report.errors.prefix(3).map(\.message))")
        exit(1)
    }
    phases["load+validate", default: []].append(seconds(since: start))
    let renderStart = DispatchTime.now().uptimeNanoseconds
    let output = EstateRenderer(estate: loaded, defaultNodeName: "pve").render(RenderStage.allCases)
    phases["render (all stages, concurrently)", default: []].append(seconds(since: renderStart))
    totals.append(seconds(since: start))
    fileCount = output.files.count
    renderedBytes = output.files.map(\.contents.utf8.count).reduce(0, +)
    // Each stage alone, outside the total: where the render time goes.
    for stage in RenderStage.allCases {
        let stageStart = DispatchTime.now().uptimeNanoseconds
        _ = EstateRenderer(estate: loaded, defaultNodeName: "pve").render([stage])
        phases["render " + stage.rawValue, default: []].append(seconds(since: stageStart))
    }
}

func median(_ values: [Double]) -> Double { values.sorted()[values.count / 2] }
totals.sort()
print(
    String(
        format:
            "guests=%d rules=%d stacks=%d certs=%d input=%.1fMB files=%d output=%.1fMB  validate+render: median %.3fs min %.3fs max %.3fs (%d runs)  peak RSS %.1f MB",
        shape[0], shape[1], shape[2], shape[3], Double(inputBytes) / 1e6, fileCount, Double(renderedBytes) / 1e6, median(totals), totals.first!,
        totals.last!, iterations, Double(peakResidentKB()) / 1024))
let order = ["load+validate", "render (all stages, concurrently)"] + RenderStage.allCases.map { "render " + $0.rawValue }
print("  phases (median; stages alone, not in the total): " + order.map { String(format: "%@ %.3fs", $0, median(phases[$0]!)) }.joined(separator: ", "))

// DESIGN.md §5's budgets for validate + render: 0.25 s and 100 MB at 1,000 guests, 2 s at 10,000.
// A median over its budget fails the benchmark (exit 1), not only its figure.
let budget: (seconds: Double, megabytes: Double?)? = shape[0] == 1_000 ? (0.25, 100) : shape[0] == 10_000 ? (2, nil) : nil
if let budget {
    var over: [String] = []
    if median(totals) > budget.seconds { over.append(String(format: "median %.3fs, over %.2fs", median(totals), budget.seconds)) }
    let megabytes = Double(peakResidentKB()) / 1024
    if let limit = budget.megabytes, megabytes > limit { over.append(String(format: "peak RSS %.1f MB, over %.0f MB", megabytes, limit)) }
    if !over.isEmpty {
        print("OVER BUDGET (\(shape[0]) guests): " + over.joined(separator: "; "))
        exit(1)
    }
}
