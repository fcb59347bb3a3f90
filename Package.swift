// swift-tools-version: 6.0
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
    ],
    targets: [
        .executableTarget(name: "phoenix", dependencies: ["PhoenixCLI"]),
        .executableTarget(name: "phoenix-bench", dependencies: ["PhoenixCore", "PhoenixTesting"]),
        .target(
            name: "PhoenixCLI",
            dependencies: [
                "PhoenixCore",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        .target(name: "PhoenixCore", dependencies: [.product(name: "Yams", package: "Yams")]),
        .target(name: "PhoenixTesting", dependencies: ["PhoenixCore"]),
        .testTarget(
            name: "PhoenixCoreTests",
            dependencies: ["PhoenixCore", "PhoenixCLI", "PhoenixTesting"],
            exclude: ["Golden"]
        ),
        .testTarget(
            name: "PhoenixIntegrationTests",
            dependencies: ["PhoenixCore", "PhoenixCLI", "PhoenixTesting"]
        ),
    ]
)
