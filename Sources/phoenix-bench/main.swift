import Foundation
import PhoenixCore
import PhoenixTesting

/// `phoenix-bench [guests rules stacks certificates] [iterations]`: generates a synthetic estate in
/// memory, then times validate + render of every stage, and each phase on its own
/// (release build: `swift run -c release phoenix-bench`).
let arguments = CommandLine.arguments.dropFirst().compactMap { Int($0) }
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
    var output = RenderOutput()
    for stage in RenderStage.allCases {
        let stageStart = DispatchTime.now().uptimeNanoseconds
        let rendered = EstateRenderer(estate: loaded, defaultNodeName: "pve").render([stage])
        phases["render " + stage.rawValue, default: []].append(seconds(since: stageStart))
        output.files += rendered.files
    }
    totals.append(seconds(since: start))
    fileCount = output.files.count
    renderedBytes = output.files.map(\.contents.utf8.count).reduce(0, +)
}

func median(_ values: [Double]) -> Double { values.sorted()[values.count / 2] }
totals.sort()
print(
    String(
        format: "guests=%d rules=%d stacks=%d certs=%d input=%.1fMB files=%d output=%.1fMB  validate+render: median %.3fs min %.3fs max %.3fs (%d runs)  peak RSS %.1f MB",
        shape[0], shape[1], shape[2], shape[3], Double(inputBytes) / 1e6, fileCount, Double(renderedBytes) / 1e6, median(totals), totals.first!,
        totals.last!, iterations, Double(peakResidentKB()) / 1024))
let order = ["load+validate"] + RenderStage.allCases.map { "render " + $0.rawValue }
print("  phases (median): " + order.map { String(format: "%@ %.3fs", $0, median(phases[$0]!)) }.joined(separator: ", "))
