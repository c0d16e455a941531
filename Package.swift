// swift-tools-version: 6.0
import PackageDescription

// One settings array, applied to every target by the loop at the end (as async-http-client does).
let upcomingFeatures: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
    .enableUpcomingFeature("MemberImportVisibility"),
]

let argumentParser: Target.Dependency = .product(name: "ArgumentParser", package: "swift-argument-parser")
let grdb: Target.Dependency = .product(name: "GRDB", package: "GRDB.swift")
let logging: Target.Dependency = .product(name: "Logging", package: "swift-log")
let crypto: Target.Dependency = .product(name: "Crypto", package: "swift-crypto")
let asyncHTTPClient: Target.Dependency = .product(name: "AsyncHTTPClient", package: "async-http-client")
let serviceLifecycle: [Target.Dependency] = ["ServiceLifecycle", "UnixSignals"].map { .product(name: $0, package: "swift-service-lifecycle") }
let nio: [Target.Dependency] = ["NIOCore", "NIOPosix", "NIOHTTP1", "NIOConcurrencyHelpers"].map { .product(name: $0, package: "swift-nio") }

let package = Package(
    name: "Conviction",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "conviction", targets: ["ConvictionCLI"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", exact: "1.8.2"),
        .package(url: "https://github.com/groue/GRDB.swift", exact: "7.10.0"),
        .package(url: "https://github.com/apple/swift-log", exact: "1.16.2"),
        .package(url: "https://github.com/apple/swift-crypto", exact: "3.12.3"),
        .package(url: "https://github.com/swift-server/async-http-client", exact: "1.37.0"),
        .package(url: "https://github.com/apple/swift-nio", exact: "2.101.2"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", exact: "2.13.0"),
        .package(url: "https://github.com/LebJe/TOMLKit", exact: "0.6.0"),
        .package(url: "https://github.com/apple/swift-metrics", exact: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", exact: "2.4.1"),
        .package(url: "https://github.com/apple/swift-async-algorithms", exact: "1.1.4"),
    ],
    targets: [
        // MARK: - C libraries
        .systemLibrary(name: "CZlib", path: "Sources/CZlib", providers: [.apt(["zlib1g-dev"])]),

        // MARK: - Stages, top to bottom in data-flow order
        .target(name: "ConvictionCore"),
        // The one HTTP layer: the process's HTTP client, the retry policy and the loopback server.
        .target(name: "ConvictionHTTP", dependencies: ["ConvictionCore", asyncHTTPClient] + nio),
        // The X payload schema: its Codable types, the one reader and the one writer.
        .target(name: "ConvictionXPayload", dependencies: ["ConvictionCore"]),
        .target(name: "ConvictionStore", dependencies: ["ConvictionCore", "CZlib", grdb, crypto]),
        .target(name: "ConvictionIngest", dependencies: ["ConvictionCore", "ConvictionHTTP", "ConvictionXPayload", "ConvictionStore", asyncHTTPClient, grdb, logging,
                                                   .product(name: "CoreMetrics", package: "swift-metrics"), .product(name: "Prometheus", package: "swift-prometheus"),
                                                   .product(name: "AsyncAlgorithms", package: "swift-async-algorithms")] + nio),
        // The local X API server: tests and `make demo` stream through the real client against it.
        .target(name: "ConvictionXEmulator", dependencies: ["ConvictionCore", "ConvictionHTTP", "ConvictionXPayload"] + nio),
        .target(name: "ConvictionScoring", dependencies: ["ConvictionCore", "ConvictionHTTP", crypto, asyncHTTPClient] + nio),
        // The local stand-in for a GPU scoring instance: an OpenAI-compatible server and the spot notice.
        .target(name: "ConvictionLLMEmulator", dependencies: ["ConvictionCore", "ConvictionHTTP", "ConvictionScoring"] + nio),
        .target(name: "ConvictionAWS", dependencies: ["ConvictionCore", "ConvictionHTTP", "ConvictionStore", "CZlib", asyncHTTPClient, crypto,
                                                   .product(name: "CoreMetrics", package: "swift-metrics")]),
        .target(name: "ConvictionFeatures", dependencies: ["ConvictionCore"]),
        .target(name: "ConvictionModeling", dependencies: ["ConvictionCore"]),
        .target(
            name: "ConvictionPipeline",
            dependencies: [
                "ConvictionCore", "ConvictionStore", "ConvictionXPayload", "ConvictionIngest", "ConvictionScoring",
                "ConvictionFeatures", "ConvictionModeling", "ConvictionAWS", logging,
                .product(name: "TOMLKit", package: "TOMLKit"), .product(name: "CoreMetrics", package: "swift-metrics"),
            ]
        ),
        .target(
            name: "ConvictionDashboard",
            dependencies: ["ConvictionCore", "ConvictionHTTP", "ConvictionStore", "ConvictionIngest", "ConvictionModeling", "ConvictionPipeline", crypto, logging, asyncHTTPClient] + nio
        ),
        .executableTarget(
            name: "ConvictionCLI",
            dependencies: ["ConvictionCore", "ConvictionHTTP", "ConvictionXPayload", "ConvictionStore", "ConvictionIngest", "ConvictionFeatures", "ConvictionModeling", "ConvictionAWS", "ConvictionPipeline", "ConvictionScoring", "ConvictionXEmulator", "ConvictionLLMEmulator", "ConvictionDashboard", argumentParser, logging] + serviceLifecycle
        ),

        // MARK: - Benchmarks (make bench)
        .executableTarget(
            name: "ConvictionBenchmarks",
            dependencies: ["ConvictionCore", "ConvictionStore", "ConvictionIngest", "ConvictionFeatures", "ConvictionModeling", "ConvictionScoring"],
            path: "benchmarks/Sources/ConvictionBenchmarks"
        ),

        // MARK: - Tests
        .target(name: "ConvictionTesting", dependencies: ["ConvictionCore"], path: "Tests/ConvictionTesting"),
        .testTarget(name: "ConvictionCoreTests", dependencies: ["ConvictionCore", "ConvictionTesting"]),
        .testTarget(name: "ConvictionHTTPTests", dependencies: ["ConvictionHTTP", "ConvictionCore", "ConvictionTesting", asyncHTTPClient] + nio),
        .testTarget(name: "ConvictionStoreTests", dependencies: ["ConvictionStore", "ConvictionCore", "ConvictionTesting"]),
        .testTarget(name: "ConvictionIngestTests", dependencies: ["ConvictionXPayload", "ConvictionIngest", "ConvictionHTTP", "ConvictionXEmulator", "ConvictionStore", "ConvictionCore", "ConvictionTesting", logging, grdb, .product(name: "Prometheus", package: "swift-prometheus")]),
        .testTarget(name: "ConvictionAWSTests", dependencies: ["ConvictionAWS", "ConvictionHTTP", "ConvictionStore", "ConvictionCore", "ConvictionTesting", "ConvictionLLMEmulator", asyncHTTPClient,
                                                           .product(name: "NIOHTTP1", package: "swift-nio")]),
        .testTarget(name: "ConvictionScoringTests", dependencies: ["ConvictionScoring", "ConvictionLLMEmulator", "ConvictionIngest", "ConvictionCore", "ConvictionTesting"]),
        .testTarget(name: "ConvictionFeaturesTests", dependencies: ["ConvictionXPayload", "ConvictionFeatures", "ConvictionCore", "ConvictionIngest", "ConvictionScoring", "ConvictionTesting"]),
        .testTarget(name: "ConvictionModelingTests", dependencies: ["ConvictionModeling", "ConvictionCore", "ConvictionTesting"]),
        .testTarget(
            name: "ConvictionPipelineTests",
            dependencies: ["ConvictionXPayload", "ConvictionPipeline", "ConvictionStore", "ConvictionIngest", "ConvictionFeatures", "ConvictionModeling", "ConvictionScoring", "ConvictionCore", "ConvictionTesting", "ConvictionLLMEmulator", logging]
        ),
        .testTarget(
            name: "ConvictionDashboardTests",
            dependencies: ["ConvictionDashboard", "ConvictionHTTP", "ConvictionPipeline", "ConvictionStore", "ConvictionIngest", "ConvictionCore", "ConvictionTesting",
                           asyncHTTPClient, logging, .product(name: "NIOCore", package: "swift-nio"), .product(name: "NIOHTTP1", package: "swift-nio")]
        ),
        // Runs the built `conviction` binary: depending on the executable makes `swift test` build it.
        .testTarget(name: "ConvictionCLITests", dependencies: ["ConvictionCLI", "ConvictionAWS", "ConvictionCore", "ConvictionStore", "ConvictionTesting"]),
    ],
    swiftLanguageModes: [.v6]
)

for target in package.targets where target.type != .system {
    target.swiftSettings = (target.swiftSettings ?? []) + upcomingFeatures
}
