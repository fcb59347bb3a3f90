/// Checks a rendered Proxmox firewall file against the grammar current pve-firewall parses: the
/// `[OPTIONS]` and `[RULES]` sections, `key: value` options, and rules `[|]DIRECTION ACTION` with only
/// the options pve-firewall accepts (`-iface`, which the original wrote, is not one of them).
public enum FirewallGrammar {
    static let ruleOptions: Set<String> = ["-i", "-source", "-dest", "-p", "-dport", "-sport", "-log", "-icmp-type"]

    /// The problems found, each with its line number; empty when the file parses.
    public static func problems(in text: String) -> [String] {
        var problems: [String] = []
        var section = ""
        for (index, raw) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let number = index + 1
            let line = raw.trimmingCharacters(in: .whitespaces)
            if line.isEmpty || line.hasPrefix("#") { continue }
            if line.hasPrefix("[") {
                guard line.hasSuffix("]") else {
                    problems.append("line \(number): unterminated section header")
                    continue
                }
                section = line.dropFirst().dropLast().split(separator: " ").first.map { String($0).uppercased() } ?? ""
                if !["OPTIONS", "RULES", "IPSET", "ALIASES", "GROUP"].contains(section) { problems.append("line \(number): unknown section [\(section)]") }
                continue
            }
            switch section {
            case "OPTIONS":
                let parts = line.split(separator: ":", maxSplits: 1)
                if parts.count != 2 || parts[1].trimmingCharacters(in: .whitespaces).isEmpty { problems.append("line \(number): an option must be key: value") }
            case "RULES":
                if let problem = ruleProblem(line) { problems.append("line \(number): \(problem)") }
            case "":
                problems.append("line \(number): content before the first section")
            default:
                continue
            }
        }
        return problems
    }

    static func ruleProblem(_ line: String) -> String? {
        let body = line.split(separator: "#", maxSplits: 1).first.map(String.init) ?? line
        var words = body.split(separator: " ").map(String.init)
        guard words.count >= 2 else { return "a rule needs a direction and an action" }
        let direction = words.removeFirst().drop(while: { $0 == "|" })
        guard ["IN", "OUT", "GROUP"].contains(direction) else { return "\(direction) is not a rule direction" }
        let action = words.removeFirst()
        guard direction == "GROUP" || ["ACCEPT", "DROP", "REJECT"].contains(action) else { return "\(action) is not a rule action" }
        while !words.isEmpty {
            let option = words.removeFirst()
            guard ruleOptions.contains(option) else { return "\(option) is not an option pve-firewall accepts" }
            guard !words.isEmpty, !words[0].hasPrefix("-") || option == "-icmp-type" else { return "\(option) has no value" }
            words.removeFirst()
        }
        return nil
    }
}
