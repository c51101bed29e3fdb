// swift-tools-version: 6.1
// qbench: lab control for quantum-secure optical inference. Layout: docs/ARCHITECTURE.md.
import PackageDescription

/// Numeric kernels are compiled optimised even in debug builds so the test suite
/// (millions of samples per statistical test) runs in seconds, not minutes.
let optimised: [SwiftSetting] = [.unsafeFlags(["-O"])]

let package = Package(
    name: "qbench",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "qbench", targets: ["qbench"]),
        .library(name: "SecureInference", targets: ["SecureInference"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-numerics", from: "1.0.0"),
        .package(url: "https://github.com/jpsim/Yams", from: "6.0.0"),
    ],
    targets: [
        // C libraries from Debian's -dev packages (installed by scripts/bootstrap.sh).
        .systemLibrary(name: "CLibUSB", pkgConfig: "libusb-1.0", providers: [.apt(["libusb-1.0-0-dev"])]),
        .systemLibrary(name: "CGPIOD", pkgConfig: "libgpiod", providers: [.apt(["libgpiod-dev"])]),
        .systemLibrary(name: "CZlib", pkgConfig: "zlib", providers: [.apt(["zlib1g-dev"])]),
        .systemLibrary(name: "CBLAS", pkgConfig: "openblas", providers: [.apt(["libopenblas-dev"])]),

        // Pure numerics: random numbers, Gaussian sampling, statistics, BLAS wrappers.
        .target(name: "NumericsKit", dependencies: ["CBLAS"], swiftSettings: optimised),
        // The protocol: encoding, client operations, estimators, leakage bounds, network, training.
        .target(
            name: "SecureInference",
            dependencies: ["NumericsKit", "CZlib", .product(name: "Numerics", package: "swift-numerics")],
            swiftSettings: optimised
        ),
        // Device-family protocols, units, limits, the bench and its YAML description.
        .target(name: "BenchKit", dependencies: ["Yams"], swiftSettings: optimised),
        // The digital twin: every BenchKit device family with physics, hidden constants, faults.
        .target(
            name: "BenchSim",
            dependencies: ["BenchKit", "NumericsKit", "SecureInference", .product(name: "Numerics", package: "swift-numerics")],
            swiftSettings: optimised
        ),
        // SVG plots and CSV for calibration records, maps and run reports.
        .target(name: "Plots"),

        .testTarget(name: "SecureInferenceTests", dependencies: ["SecureInference", "NumericsKit", .product(name: "Numerics", package: "swift-numerics")], swiftSettings: optimised),
        .executableTarget(
            name: "qbench",
            dependencies: [
                "SecureInference", "NumericsKit", "Plots", "BenchKit", "BenchSim",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            swiftSettings: optimised
        ),

        .testTarget(name: "PlotsTests", dependencies: ["Plots"]),
        .testTarget(name: "NumericsKitTests", dependencies: ["NumericsKit"], swiftSettings: optimised),
        .testTarget(name: "BenchSimTests", dependencies: ["BenchSim", "BenchKit", "NumericsKit", "SecureInference", .product(name: "Numerics", package: "swift-numerics")], swiftSettings: optimised),


    ]
)
