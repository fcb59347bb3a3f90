import Foundation

/// Durations as the agent's options and configuration write them: `90s`, `5m`, `1h`, `1d`, or a
/// plain number of seconds.
public enum AgentDuration {
    /// Seconds, or nil when `text` is not a duration (zero and negative durations are not).
    public static func seconds(_ text: String) -> Double? {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        guard let last = trimmed.last else { return nil }
        let units: [Character: Double] = ["s": 1, "m": 60, "h": 3600, "d": 86_400]
        let (number, unit) = last.isNumber ? (Substring(trimmed), 1.0) : (trimmed.dropLast(), units[last] ?? 0)
        guard unit > 0, let value = Double(number), value.isFinite, value > 0 else { return nil }
        return value * unit
    }

    /// `90` → "90s", `300` → "5m", `3600` → "1h": the largest unit that divides it.
    public static func text(_ seconds: Double) -> String {
        for (unit, size) in [("d", 86_400.0), ("h", 3600), ("m", 60)] where seconds >= size && seconds.truncatingRemainder(dividingBy: size) == 0 {
            return "\(Int(seconds / size))\(unit)"
        }
        return seconds == seconds.rounded() ? "\(Int(seconds))s" : "\(seconds)s"
    }
}
