import PhoenixCore
import PhoenixEngine

extension FilesKind {
    /// The files take part for every file stage asked (the firewall's only when it does not go
    /// through the API).
    public static let registration = KindRegistration(kind: FileKind()) { environment in
        let stages = FileKind().stages(in: ResourceGraphContext(estate: environment.estate, stages: Set(environment.stages), options: environment.options))
        guard !stages.isEmpty, let engine = environment.engine?() else { return .none }
        return KindSetup(runner: FilesKind(engine: engine, stages: stages).runner(failpoints: environment.failpoints))
    }
}
