import Foundation
import PhoenixCore

extension SyncEngine {
    func stateCall<T>(_ body: () throws(StateError) -> T) throws(EngineError) -> T {
        do { return try body() } catch { throw .state(error) }
    }
}
