// swift-tools-version: 6.1
import PackageDescription

let package = Package(
    name: "phoenix",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "phoenix", targets: ["phoenix"]),
        .executable(name: "phoenix-bench", targets: ["phoenix-bench"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/jpsim/Yams", from: "6.2.2"),
        .package(url: "https://github.com/groue/GRDB.swift", from: "7.10.0"),
        .package(url: "https://github.com/swift-server/async-http-client", from: "1.37.0"),
        .package(url: "https://github.com/apple/swift-certificates", from: "1.21.1"),
        .package(url: "https://github.com/apple/swift-crypto", from: "4.5.2"),
        .package(url: "https://github.com/apple/swift-asn1", from: "1.7.4"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-http-types", from: "1.8.0"),
        .package(url: "https://github.com/vapor/postgres-nio", from: "1.33.2"),
        .package(url: "https://github.com/apple/swift-nio-ssl", from: "2.37.6"),
    ],
    targets: [
        .executableTarget(name: "phoenix", dependencies: ["PhoenixCLI", "PhoenixAgent"]),
        .executableTarget(name: "phoenix-bench", dependencies: ["PhoenixCore", "PhoenixTesting"]),
        .executableTarget(
            name: "phoenix-bench-dashboard",
            dependencies: ["PhoenixCore", "PhoenixEngine", "PhoenixTesting", "PhoenixAgent", "PhoenixServices", "PhoenixState"]),
        .target(
            name: "PhoenixCLI",
            dependencies: [
                "PhoenixCore", "PhoenixEngine", "PhoenixState", "PhoenixPostgres", "PhoenixProxmox", "PhoenixDocker", "PhoenixCerts",
                "PhoenixServices", "PhoenixAgent", "PhoenixAgentServer", "PhoenixHTTP", .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // Executes plans against real machines: targets, service units, the graph walk, verification.
        .target(name: "PhoenixEngine", dependencies: ["PhoenixCore", .product(name: "Yams", package: "Yams")]),
        // The live HTTP transport the API clients share (async-http-client, TLS from PEM files).
        .target(name: "PhoenixHTTP", dependencies: ["PhoenixCore", .product(name: "AsyncHTTPClient", package: "async-http-client")]),
        // The Proxmox VE API client: token or ticket auth, TLS against the cluster CA, tasks, bulk reads.
        .target(
            name: "PhoenixProxmox",
            dependencies: ["PhoenixCore", "PhoenixEngine", "PhoenixHTTP", .product(name: "AsyncHTTPClient", package: "async-http-client")]
        ),
        // The Docker Engine API client: unix socket or TCP with TLS and a client certificate, the API version negotiated.
        .target(name: "PhoenixDocker", dependencies: ["PhoenixCore", "PhoenixHTTP", .product(name: "AsyncHTTPClient", package: "async-http-client")]),
        // X.509 and the Step-CA API: certificates parsed and requested (CSR), the JWK provisioner's
        // one-time tokens, sign and renew (mTLS).
        .target(
            name: "PhoenixCerts",
            dependencies: [
                "PhoenixCore", "PhoenixHTTP", .product(name: "X509", package: "swift-certificates"),
                .product(name: "Crypto", package: "swift-crypto"), .product(name: "_CryptoExtras", package: "swift-crypto"),
                .product(name: "SwiftASN1", package: "swift-asn1"),
            ]
        ),
        // The agent as a process: its HTTP API on Hummingbird, the loops and signals under swift-service-lifecycle.
        .target(
            name: "PhoenixAgentServer",
            dependencies: [
                "PhoenixAgent", "PhoenixCore", .product(name: "Hummingbird", package: "hummingbird"), .product(name: "HummingbirdTLS", package: "hummingbird"),
                .product(name: "HummingbirdCore", package: "hummingbird"), .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"), .product(name: "Logging", package: "swift-log"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
            ]
        ),
        // What the commands do, for the CLI and any long-running caller: plan, sync, converge.
        .target(
            name: "PhoenixServices", dependencies: ["PhoenixCore", "PhoenixEngine", "PhoenixState", "PhoenixProxmox", "PhoenixDocker", "PhoenixCerts"]
        ),
        // The state store: runs, last applied content, the journal, the lock (SQLite through GRDB).
        .target(name: "PhoenixState", dependencies: ["PhoenixCore", .product(name: "GRDB", package: "GRDB.swift")]),
        // Team state: the same store on PostgreSQL (postgres-nio), one writer under a session advisory lock.
        .target(
            name: "PhoenixPostgres",
            dependencies: [
                "PhoenixCore", .product(name: "PostgresNIO", package: "postgres-nio"), .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
            ]),
        .target(name: "PhoenixCore", dependencies: [.product(name: "Yams", package: "Yams")]),
        // The agent's parts that need no server: the system git, webhook signatures, access tokens,
        // the newest-commit-wins scheduler, commit statuses and notifications.
        .target(
            name: "PhoenixAgent",
            dependencies: [
                "PhoenixCore", "PhoenixEngine", "PhoenixServices", .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Prometheus", package: "swift-prometheus"),
            ]
        ),
        // Fakes of the ports (Proxmox, Docker Engine, CA, machines) and helpers that start real components for tests.
        .target(
            name: "PhoenixTesting",
            dependencies: [
                "PhoenixCore", "PhoenixEngine", .product(name: "Yams", package: "Yams"), .product(name: "X509", package: "swift-certificates"),
                .product(name: "Crypto", package: "swift-crypto"), .product(name: "_CryptoExtras", package: "swift-crypto"),
                .product(name: "SwiftASN1", package: "swift-asn1"),
            ]
        ),
        .testTarget(
            name: "PhoenixCoreTests",
            dependencies: ["PhoenixCore", "PhoenixCLI", "PhoenixEngine", "PhoenixServices", "PhoenixTesting"],
            exclude: ["Golden"]
        ),
        .testTarget(
            name: "PhoenixEngineTests",
            dependencies: ["PhoenixCore", "PhoenixEngine", "PhoenixState", "PhoenixPostgres", "PhoenixTesting"]
        ),
        .testTarget(name: "PhoenixServicesTests", dependencies: ["PhoenixCore", "PhoenixEngine", "PhoenixServices", "PhoenixTesting"]),
        .testTarget(name: "PhoenixAgentTests", dependencies: ["PhoenixCore", "PhoenixEngine", "PhoenixServices", "PhoenixAgent", "PhoenixTesting"]),
        .testTarget(name: "PhoenixProxmoxTests", dependencies: ["PhoenixCore", "PhoenixProxmox", "PhoenixTesting"]),
        .testTarget(name: "PhoenixDockerTests", dependencies: ["PhoenixCore", "PhoenixCLI", "PhoenixDocker", "PhoenixServices", "PhoenixTesting"]),
        .testTarget(
            name: "PhoenixCertsTests",
            dependencies: [
                "PhoenixCore", "PhoenixCerts", "PhoenixTesting", .product(name: "X509", package: "swift-certificates"),
                .product(name: "Crypto", package: "swift-crypto"), .product(name: "_CryptoExtras", package: "swift-crypto"),
                .product(name: "SwiftASN1", package: "swift-asn1"),
            ]
        ),
        .testTarget(
            name: "PhoenixIntegrationTests",
            dependencies: [
                "PhoenixCore", "PhoenixCLI", "PhoenixEngine", "PhoenixState", "PhoenixPostgres", "PhoenixProxmox", "PhoenixServices", "PhoenixTesting",
            ],
            exclude: ["Fixtures"]
        ),
    ]
)
