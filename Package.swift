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
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/jpsim/Yams", from: "6.0.0"),
        .package(url: "https://github.com/groue/GRDB.swift", from: "7.0.0"),
        // Sealing (calibration records, the secret basis) and the classical channel between the stations.
        .package(url: "https://github.com/apple/swift-protobuf", from: "1.39.0"),
        .package(url: "https://github.com/apple/swift-crypto", from: "4.5.2"),
        .package(url: "https://github.com/apple/swift-certificates", from: "1.21.1"),
        .package(url: "https://github.com/apple/swift-asn1", from: "1.7.4"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-nio-ssl", from: "2.37.6"),
        .package(url: "https://github.com/grpc/grpc-swift-2", from: "2.4.3"),
        .package(url: "https://github.com/grpc/grpc-swift-nio-transport", from: "2.9.2"),
        .package(url: "https://github.com/grpc/grpc-swift-protobuf", from: "2.4.1"),
        // The server station's metrics (`qbench serve --metrics`): the registry and its text format.
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
    ],
    targets: [
        // C libraries from Debian's -dev packages (installed by scripts/bootstrap.sh).
        .systemLibrary(name: "CLibUSB", pkgConfig: "libusb-1.0", providers: [.apt(["libusb-1.0-0-dev"])]),
        .systemLibrary(name: "CGPIOD", pkgConfig: "libgpiod", providers: [.apt(["libgpiod-dev"])]),
        .systemLibrary(name: "CZlib", pkgConfig: "zlib", providers: [.apt(["zlib1g-dev"])]),
        .systemLibrary(name: "CBLAS", pkgConfig: "openblas", providers: [.apt(["libopenblas-dev"])]),
        // Tests only: umockdev's testbed API, for the bus-level tests (docs/hardware.md §5).
        .systemLibrary(name: "CUMockdev", pkgConfig: "umockdev-1.0", providers: [.apt(["libumockdev-dev", "umockdev"])]),

        // Small C kernels, each built for AVX2 and for the baseline with bit-identical results (the
        // choice is made at run time): the Gaussian sampler's fast path, the server's slot sums.
        .target(name: "CKernels", cSettings: [.unsafeFlags(["-O2"])]),
        // Pure numerics: random numbers, Gaussian sampling, statistics, BLAS wrappers.
        .target(name: "NumericsKit", dependencies: ["CBLAS", "CKernels"], swiftSettings: optimised),
        // The protocol: encoding, client operations, estimators, leakage bounds, network, training.
        .target(
            name: "SecureInference",
            dependencies: ["NumericsKit", "CKernels", "CZlib", .product(name: "Numerics", package: "swift-numerics")],
            swiftSettings: optimised
        ),
        // Device-family protocols, units, limits, the bench and its YAML description.
        .target(name: "BenchKit", dependencies: ["Yams", "CKernels"], swiftSettings: optimised),
        // The digital twin: every BenchKit device family with physics, hidden constants, faults.
        .target(
            name: "BenchSim",
            dependencies: ["BenchKit", "NumericsKit", "SecureInference", "CKernels", .product(name: "Numerics", package: "swift-numerics")],
            swiftSettings: optimised
        ),
        // Calibration routines over the BenchKit protocols, and the calibration store.
        .target(
            name: "Calibrate",
            dependencies: ["BenchKit", "NumericsKit", "SecureInference", "Plots", .product(name: "Crypto", package: "swift-crypto")],
            swiftSettings: optimised
        ),
        // Plans, the engine that runs them on a bench, the journal, the run database, reports.
        .target(
            name: "Sequencer",
            dependencies: ["BenchKit", "SecureInference", "Calibrate", "NumericsKit", "Plots", "SessionProtocol", .product(name: "GRDB", package: "GRDB.swift"),
                           .product(name: "Crypto", package: "swift-crypto"), .product(name: "CryptoExtras", package: "swift-crypto")],
            swiftSettings: optimised
        ),
        // Checks against the twin's hidden constants (calibration accuracy, the server's check): for
        // tests and `qbench bench`, never on the protocol path.
        .target(name: "TwinValidation", dependencies: ["BenchSim", "Calibrate", "Sequencer", "BenchKit", "SecureInference", "NumericsKit", "Plots"], swiftSettings: optimised),
        // SVG plots and CSV for calibration records, maps and run reports.
        .target(name: "Plots"),
        // Transports: USBTMC over libusb, GPIO lines over libgpiod, SCPI sessions, scripted transport.
        .target(name: "BenchIO", dependencies: ["CLibUSB", "CGPIOD", .product(name: "Logging", package: "swift-log")]),
        // SCPI behaviour of instruments (error queue, status byte), shared by the in-memory and bus tests.
        .target(name: "InstrumentModels", dependencies: ["BenchIO"], swiftSettings: optimised),
        // Tests only: URB/ioctl mechanics of an emulated USBTMC instrument and GPIO chip for umockdev.
        .target(name: "BenchMockHW", dependencies: ["CUMockdev"]),
        // Real-instrument drivers, one file per model (Devices/instruments/*.yaml), `qbench scan`'s logic.
        // Optimised in debug too: a 1,000,000-point arb plan or a multi-megabyte block through the
        // instrument models takes seconds unoptimised, on a test thread other tests wait for.
        .target(name: "Drivers", dependencies: ["BenchIO", "BenchKit"], swiftSettings: optimised),
        // The session between the stations, pure: typed messages (protobuf), per-side state machines,
        // transcript hash chain, the channel protocol and its in-process implementation.
        .target(
            name: "SessionProtocol",
            dependencies: [.product(name: "SwiftProtobuf", package: "swift-protobuf"), .product(name: "Crypto", package: "swift-crypto")],
            exclude: ["Proto"]
        ),
        // The session over gRPC (HTTP/2) with mutual TLS, the lab PKI. The only home of grpc and nio-ssl.
        .target(
            name: "SessionTransport",
            dependencies: [
                "SessionProtocol",
                .product(name: "Yams", package: "Yams"),
                .product(name: "SwiftProtobuf", package: "swift-protobuf"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "X509", package: "swift-certificates"),
                .product(name: "SwiftASN1", package: "swift-asn1"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "GRPCCore", package: "grpc-swift-2"),
                .product(name: "GRPCProtobuf", package: "grpc-swift-protobuf"),
                .product(name: "GRPCNIOTransportHTTP2Posix", package: "grpc-swift-nio-transport"),
            ],
            exclude: ["Proto"]
        ),

        .testTarget(name: "SecureInferenceTests", dependencies: ["SecureInference", "NumericsKit", "CKernels", .product(name: "Numerics", package: "swift-numerics")], swiftSettings: optimised),
        .executableTarget(
            name: "qbench",
            dependencies: [
                "SecureInference", "NumericsKit", "Plots", "BenchKit", "BenchSim", "Calibrate", "Sequencer", "Drivers", "TwinValidation",
                "SessionProtocol", "SessionTransport",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "X509", package: "swift-certificates"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "Prometheus", package: "swift-prometheus"),
            ],
            swiftSettings: optimised
        ),

        // Fuzz targets for every parser of outside data (scripts/fuzz.sh builds them with libFuzzer
        // and -DFUZZING into .build-fuzz; an ordinary build is a corpus replayer).
        .executableTarget(
            name: "QBenchFuzz",
            dependencies: ["BenchIO", "BenchKit", "BenchSim", "Calibrate", "Drivers", "SecureInference", "SessionProtocol"],
            path: "Fuzz/QBenchFuzz"
        ),

        .testTarget(name: "PlotsTests", dependencies: ["Plots"]),
        .testTarget(name: "BenchKitTests", dependencies: ["BenchKit"]),
        .testTarget(name: "SequencerTests", dependencies: ["Sequencer", "SessionProtocol", "BenchKit", "BenchSim", "SecureInference", "Calibrate", "NumericsKit", .product(name: "GRDB", package: "GRDB.swift"), .product(name: "Crypto", package: "swift-crypto"), .product(name: "CryptoExtras", package: "swift-crypto")], swiftSettings: optimised),
        .testTarget(name: "CalibrateTests", dependencies: ["Calibrate", "BenchKit", "NumericsKit"], swiftSettings: optimised),
        .testTarget(name: "NumericsKitTests", dependencies: ["NumericsKit", "CKernels"], swiftSettings: optimised),
        .testTarget(name: "BenchSimTests", dependencies: ["BenchSim", "BenchKit", "NumericsKit", "SecureInference", .product(name: "Numerics", package: "swift-numerics")], swiftSettings: optimised),
        .testTarget(name: "CalibrationAccuracyTests", dependencies: ["TwinValidation", "Calibrate", "BenchSim", "BenchKit", "Sequencer", "SecureInference", "NumericsKit"], swiftSettings: optimised),
        .testTarget(name: "BenchIOTests", dependencies: ["BenchIO", "InstrumentModels", .product(name: "Logging", package: "swift-log")]),
        // Needs LD_PRELOAD=libumockdev-preload.so.0 (scripts/test.sh sets it).
        .testTarget(name: "BusTests", dependencies: ["BenchIO", "InstrumentModels", "BenchMockHW", "CLibUSB", "CGPIOD", "Drivers", "BenchKit"]),
        .testTarget(name: "DriversTests", dependencies: ["Drivers", "BenchIO", "BenchKit", "InstrumentModels"]),
        // Both stations' code over the real gRPC transport (mutual TLS on loopback), on one twin.
        .testTarget(
            name: "StationNetworkTests",
            dependencies: [
                "Sequencer", "SessionProtocol", "SessionTransport", "BenchSim", "BenchKit", "Calibrate", "SecureInference",
                .product(name: "X509", package: "swift-certificates"),
            ],
            swiftSettings: optimised
        ),
        .testTarget(
            name: "TwoStationTests",
            dependencies: ["Sequencer", "CKernels"]
        ),
        .testTarget(
            name: "SessionProtocolTests",
            dependencies: [
                "SessionProtocol", "SessionTransport",
                .product(name: "X509", package: "swift-certificates"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ]
        ),

    ]
)
