/// How phoenix reaches the Docker daemons and deploys the stacks (`phoenix.docker`, and the
/// original's `docker` block for the Portainer images). Every key has the original's layout as default.
public struct DockerSettings: Sendable {
    /// The daemon of each Swarm VM: `tcp://<vm ip>:<port>` unless `endpoints` names another
    /// (`unix:///run/docker.sock`, `tcp://host:port`), by VMID.
    public var endpoints: [Int: String] = [:]
    public var port = 2376
    /// The client's TLS material on the host for TCP endpoints (the original's `/etc/docker/tls`
    /// layout); nil with `"tls": false` (plain TCP, for a daemon on loopback only).
    public var tls: (caFile: String, certFile: String, keyFile: String)? = DockerSettings.defaultTLS

    /// The original's `/etc/docker/tls` layout: the files when `phoenix.docker.tls` names none.
    public static let defaultTLS = (caFile: "/etc/docker/tls/ca.pem", certFile: "/etc/docker/tls/cert.pem", keyFile: "/etc/docker/tls/key.pem")

    /// The settings that name the client's TLS files, each saying when its value is the default
    /// (for messages about a file that is not there).
    public var tlsSettings: (ca: String, cert: String, key: String) {
        func named(_ key: String, _ path: String?, _ fallback: String) -> String {
            "phoenix.docker.tls.\(key)" + (path == fallback ? ", not set: the original's default" : "")
        }
        return (
            named("ca_file", tls?.caFile, Self.defaultTLS.caFile), named("cert_file", tls?.certFile, Self.defaultTLS.certFile),
            named("key_file", tls?.keyFile, Self.defaultTLS.keyFile)
        )
    }
    /// The address each node advertises to the Swarm, by VMID (default: its static address).
    public var advertise: [Int: String] = [:]
    /// The docker CLI `docker stack deploy` runs with (on the host, pointed at the manager).
    public var cli = "docker"
    /// `--resolve-image` of `docker stack deploy`: `always`, `changed` or `never`.
    public var resolveImage = "changed"
    /// How long a deployed stack may take to converge (every service updated, its tasks running
    /// and healthy) before phoenix rolls the whole stack back.
    public var convergeTimeout: Double = 180
    /// Where each Swarm secret's value comes from on the host, by the secret's name in the compose
    /// files (`portainer_admin_password` comes from `portainer_api.admin_password`).
    public var secretFiles: [String: String] = [:]
    /// `docker.portainer_server_image` / `docker.portainer_agent_image`.
    public var portainerServerImage = "portainer/portainer-ce:latest"
    public var portainerAgentImage = "portainer/agent:latest"
    /// The stack that runs the Portainer server when the `portainer_role: primary` VM lists it
    /// (the original's name); it deploys with the services stage, its Portainer image from
    /// `portainer_server_image`.
    public var portainerStack = "portainer_service"
    /// What the Portainer agent's containers mount (`host path:container path`): the daemon's
    /// socket and its volumes, as the original's `docker run` did.
    public var portainerAgentMounts = ["/var/run/docker.sock:/var/run/docker.sock", "/var/lib/docker/volumes:/var/lib/docker/volumes"]
    /// The Portainer agent's published port (`network.portainer_agent_port`, default 9001).
    public var portainerAgentPort = 9001

    public init() {}

    public static let resolveModes = ["always", "changed", "never"]
}
