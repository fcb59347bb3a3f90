import PhoenixCore

extension SwarmConvergence {
    /// Hooks into the run: wait for a resource of another kind (nil: it converged, or is not in
    /// this run; else why it failed), wait for what a resource needs of other kinds, and announce a
    /// resource as done.
    public struct RunHooks: Sendable {
        public let store: any StateBackend
        public let run: Int64
        public let waitFor: @Sendable (String) async -> String?
        public let needs: @Sendable (String) async -> String?
        public let settle: @Sendable (String, String?) async -> Void
        /// The run's resources (nil: none known), for a kind that orders itself after others' data.
        public let graph: ResourceGraph?
        /// Resources an interrupted run announced and never finished.
        public let unfinished: Set<String>

        public init(
            store: any StateBackend, run: Int64, waitFor: @escaping @Sendable (String) async -> String?,
            needs: @escaping @Sendable (String) async -> String?, settle: @escaping @Sendable (String, String?) async -> Void,
            graph: ResourceGraph? = nil, unfinished: Set<String> = []
        ) {
            self.store = store
            self.run = run
            self.waitFor = waitFor
            self.needs = needs
            self.settle = settle
            self.graph = graph
            self.unfinished = unfinished
        }

        /// The hooks of a run's context.
        public init(_ context: RunContext) {
            self.init(
                store: context.store, run: context.run,
                waitFor: { id in await context.resources.wait(for: [id]).first.map(\.value) },
                needs: { id in
                    await context.failedDependencies(of: [id]).sorted { $0.key < $1.key }.first.map {
                        "not attempted: \($0.key) did not converge (\($0.value))"
                    }
                },
                settle: { id, failure in await context.resources.settle(id, failure: failure) }, graph: context.graph,
                unfinished: context.unfinished)
        }
    }
}
