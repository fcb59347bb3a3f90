import Foundation

extension EstateLoader {
    /// `step_ca` (the original's block) and `phoenix.step_ca` (what phoenix adds).
    func loadStepCA(_ root: JSONCursor, phoenix: JSONCursor?, trustSource: String) -> StepCASettings {
        var settings = StepCASettings()
        settings.rootFile = trustSource
        if let block = root.child("step_ca"), block.expectObject("step_ca") {
            block.warnUnknownKeys(["root_ca_name", "intermediate_ca_name", "dns_name", "provisioner_name"], in: "step_ca")
            if let cursor = block.child("dns_name"), let text = cursor.stringValue {
                if DNSName(text) != nil { settings.dnsName = text.lowercased() } else { cursor.error("\(cursor.describe) is not a DNS name") }
            }
            if let cursor = block.child("provisioner_name"), let text = cursor.stringValue {
                if !text.isEmpty, !text.contains("\0") { settings.provisioner = text } else { cursor.error("the provisioner name is empty") }
            }
        }
        guard let block = phoenix?.child("step_ca"), block.expectObject("phoenix.step_ca") else { return settings }
        block.warnUnknownKeys(
            ["url", "guest", "password_file", "root_file", "root_fingerprint", "renew_before", "lifetime", "hook_timeout_seconds", "timeout_seconds"],
            in: "phoenix.step_ca")
        if let cursor = block.child("url"), let text = cursor.stringValue {
            if text.hasPrefix("https://"), text.count > 8, !text.contains(" ") {
                settings.url = text
            } else {
                cursor.error("\(cursor.describe) is not an https URL", hint: "write it like https://ca.internal.example:9000")
            }
        }
        if let id = block.child("guest")?.idValue { settings.guest = id }
        if let path = absolutePath(block.child("password_file")) { settings.passwordFile = path }
        if let path = absolutePath(block.child("root_file")) { settings.rootFile = path }
        if let cursor = block.child("root_fingerprint"), let text = cursor.stringValue {
            let hex = text.lowercased().filter { $0 != ":" }
            if hex.count == 64, hex.allSatisfy(\.isHexDigit) {
                settings.rootFingerprint = hex
            } else {
                cursor.error("\(cursor.describe) is not a SHA-256 fingerprint", hint: "64 hex digits, as `step certificate fingerprint` prints")
            }
        }
        if let window = renewalWindow(block.child("renew_before")) { settings.renewBefore = window }
        if let lifetime = lifetime(block.child("lifetime")) { settings.lifetime = lifetime }
        if let cursor = block.child("hook_timeout_seconds"), let seconds = cursor.intValue {
            if seconds > 0 { settings.hookTimeout = TimeInterval(seconds) } else { cursor.error("the hook timeout must be positive") }
        }
        if let cursor = block.child("timeout_seconds"), let seconds = cursor.intValue {
            if seconds > 0 { settings.timeout = TimeInterval(seconds) } else { cursor.error("the API timeout must be positive") }
        }
        return settings
    }

    func renewalWindow(_ cursor: JSONCursor?) -> RenewalWindow? {
        guard let cursor else { return nil }
        if case let .number(part) = cursor.value {
            if part > 0, part < 1 { return .fraction(part) }
            cursor.error("\(cursor.describe) is not a fraction of the lifetime", hint: "a number between 0 and 1, or text such as \"1/3\" or \"8h\"")
            return nil
        }
        guard let text = cursor.stringValue else { return nil }
        if let window = RenewalWindow(text) { return window }
        cursor.error("\(cursor.describe) is not a renewal window", hint: "a fraction of the lifetime (\"1/3\", \"0.25\", \"30%\") or a duration (\"8h\")")
        return nil
    }

    func lifetime(_ cursor: JSONCursor?) -> TimeInterval? {
        guard let cursor, let text = cursor.stringValue else { return nil }
        if let seconds = Durations.parse(text), seconds >= 1 { return seconds }
        cursor.error("\(cursor.describe) is not a certificate lifetime", hint: "a duration such as \"24h\" or \"90d\"")
        return nil
    }
}
