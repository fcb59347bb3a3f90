import PhoenixCore
import PhoenixEngine

extension FilesKind {
    /// The stages whose resources are files the engine installs.
    public static let fileStages: [SyncStage] = [.files, .trust, .dns, .firewall, .services, .gateway]

    /// The files take part for every file stage asked (the firewall's only when it does not go
    /// through the API).
    public static let registration = KindRegistration(kind: FileKind()) { environment in
        let stages = environment.stages.filter { fileStages.contains($0) && !($0 == .firewall && environment.firewallThroughAPI) }
        guard !stages.isEmpty, let engine = environment.engine?() else { return .none }
        return KindSetup(runner: FilesKind(engine: engine, stages: stages).runner(failpoints: environment.failpoints))
    }
}
