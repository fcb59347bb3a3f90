import Foundation

/// What git says, made fit for an error, a log line or the state store.
public enum GitRedaction {
    /// `text` without any URL's user part (`scheme://user:secret@host` → `scheme://host`) and with
    /// the token in `tokenFile`, read now, replaced by `[REDACTED]` wherever it appears.
    public static func redact(_ text: String, tokenFile: String?) -> String {
        var redacted = text.replacing(/([A-Za-z][A-Za-z0-9+.\-]*:\/\/)[^\/@\s]*@/) { match in match.output.1 }
        if let tokenFile, let token = GitHelperMode.readToken(tokenFile) {
            redacted = redacted.replacingOccurrences(of: token, with: "[REDACTED]")
        }
        return redacted
    }
}
