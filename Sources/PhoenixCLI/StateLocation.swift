import Foundation
import PhoenixState

/// Where the state database is: `--state`, else $PHOENIX_STATE, else /var/lib/phoenix/state.sqlite.
struct StateLocation {
    let path: String

    init(option: String?) {
        let environment = ProcessInfo.processInfo.environment["PHOENIX_STATE"].flatMap { $0.isEmpty ? nil : $0 }
        path = option ?? environment ?? "/var/lib/phoenix/state.sqlite"
    }

    /// The store for reading; nil when there is none yet (nothing is created).
    func existing() throws -> StateStore? {
        do { return try StateStore.existing(path: path) } catch { throw fail(error.description) }
    }

    func writable() throws -> StateStore {
        do { return try StateStore(path: path) } catch { throw fail(error.description) }
    }
}
