import Foundation
import PhoenixCore

extension SyncEngine {
    func stateCall<T>(_ body: () async throws(StateError) -> T) async throws(EngineError) -> T {
        do { return try await body() } catch { throw .state(error) }
    }
}
