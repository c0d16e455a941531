import ConvictionCore
import ConvictionTesting
import Foundation
import Testing

/// The release tarball (`scripts/dist.sh`, built by `make test` in debug) works on its own: unpacked
/// into an empty folder outside the checkout, with `PATH=/usr/bin:/bin` and nothing from the Swift
/// toolchain, `.venv` or `.build` within reach.
/// Where `make test` left the tarball, or the log of its failed build.
enum ReleaseTarball {
    static var path: String? { ProcessInfo.processInfo.environment["CONVICTION_TEST_DIST"] }
    static var buildFailure: String? { ProcessInfo.processInfo.environment["CONVICTION_TEST_DIST_FAILED"] }
}

@Suite(.enabled(if: ReleaseTarball.path != nil || ReleaseTarball.buildFailure != nil,
                "needs the release tarball that `make test` builds (scripts/dist.sh debug .build/dist)"),
       .timeLimit(.minutes(10)))
struct DistributionTests {

    /// The release unpacked once for the suite into a fresh folder outside the checkout (replaced on each run).
    static let unpacked = UnpackedRelease()

    actor UnpackedRelease {
        /// One unpacking for all the tests, also those that ask while it runs.
        var unpacking: Task<Result<URL, DistributionFailure>, Never>?

        func get() async -> Result<URL, DistributionFailure> {
            if let unpacking { return await unpacking.value }
            let task = Task { await Self.unpack() }
            unpacking = task
            return await task.value
        }

        static func unpack() async -> Result<URL, DistributionFailure> {
            if let log = ReleaseTarball.buildFailure {
                let text = (try? String(contentsOfFile: log, encoding: .utf8)) ?? "no log at \(log)"
                return .failure(DistributionFailure(message: "scripts/dist.sh failed:\n\(text.suffix(3000))"))
            }
            guard let tarball = ReleaseTarball.path else { return .failure(DistributionFailure(message: "no tarball")) }
            let folder = FileManager.default.temporaryDirectory.appendingPathComponent("conviction-dist-test")
            try? FileManager.default.removeItem(at: folder)
            try? FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
            guard let untar = try? await TestSupport.runOffPool("/bin/tar", ["-xzf", tarball, "-C", folder.path], timeout: 300), untar.status == 0 else {
                return .failure(DistributionFailure(message: "tar -xzf \(tarball) failed"))
            }
            let name = URL(fileURLWithPath: tarball).lastPathComponent.replacingOccurrences(of: ".tar.gz", with: "")
            return .success(folder.appendingPathComponent(name))
        }
    }

    struct DistributionFailure: Error, CustomStringConvertible {
        let message: String
        var description: String { message }
    }

    func unpack() async throws -> URL {
        let root = try await Self.unpacked.get().get()
        #expect(!root.path.hasPrefix(TestSupport.packageRoot.path), "unpacked outside the checkout")
        #expect(root.lastPathComponent.hasPrefix("conviction-") && root.lastPathComponent.hasSuffix("-linux-x86_64"))
        return root
    }

    /// A clean environment: system PATH, a HOME of its own, no AWS metadata probe.
    func environment(_ root: URL) -> [String: String] {
        ["PATH": "/usr/bin:/bin", "HOME": root.path, "AWS_EC2_METADATA_DISABLED": "true", "LANG": "C.UTF-8"]
    }

    @Test func theUnpackedReleaseLinksNothingFromTheToolchainOrBuildTree() async throws {
        let root = try await unpack()
        let libs = try FileManager.default.contentsOfDirectory(atPath: root.appendingPathComponent("lib").path).sorted()
        #expect(libs.contains { $0.hasPrefix("libonnxruntime.so") } && libs.contains("libxgboost.so"))
        #expect(FileManager.default.fileExists(atPath: root.appendingPathComponent("share/conviction/models/finance-tweet-minilm/model.onnx").path))
        #expect(FileManager.default.fileExists(atPath: root.appendingPathComponent("LICENSES/NOTICE.md").path))
        let ldd = try await TestSupport.runOffPool("/usr/bin/ldd", ["bin/conviction"] + libs.map { "lib/\($0)" }, in: root, environment: environment(root))
        try #require(ldd.status == 0, "ldd: \(ldd.stderr)")
        let resolved = ldd.stdout.split(separator: "\n").filter { $0.contains("=>") }
        #expect(!resolved.isEmpty)
        for line in resolved {
            #expect(!line.contains("not found"), "\(line)")
            #expect(!line.contains("/.venv/") && !line.contains("/.build/") && !line.contains(TestSupport.packageRoot.path), "\(line)")
            #expect(!line.contains("libswift") && !line.contains("libFoundation") && !line.contains("lib_Foundation") && !line.contains("libdispatch"),
                    "no Swift runtime library is resolved at run time: \(line)")
        }
        // Bundled libraries resolve each other inside lib/ (libxgboost's OpenMP through its $ORIGIN runpath).
        for line in resolved where line.contains("libgomp") { #expect(line.contains(root.appendingPathComponent("lib").path), "\(line)") }
    }

    @Test func theUnpackedReleaseScoresAndPlansAPipelineOnItsOwn() async throws {
        let root = try await unpack()
        let score = try await TestSupport.runOffPool(root.appendingPathComponent("bin/conviction").path, ["score", "--text", "$AAPL beats on revenue, shares jump"],
                                        in: root, environment: environment(root), timeout: 120)
        #expect(score.status == 0, "\(score.stderr)")
        #expect(score.stdout.contains(",positive,") && score.stdout.contains("finance-tweet-minilm"), "the bundled model scored it: \(score.stdout)")
        let plan = try await TestSupport.runOffPool(root.appendingPathComponent("bin/conviction").path, ["pipeline", "--dry-run"],
                                       in: root, environment: environment(root), timeout: 120)
        #expect(plan.status == 0, "\(plan.stderr)")
        let planText = plan.stdout + plan.stderr
        #expect(planText.contains("train XGBoost") && planText.contains(root.appendingPathComponent("lib/libxgboost.so").path),
                "XGBoost from the release's lib/: \(planText)")
    }

    /// The systemd unit's command line parses with the release's binary; the Dockerfile installs this tarball.
    @Test func theSystemdUnitAndDockerfileMatchTheRelease() async throws {
        let root = try await unpack()
        let unit = try String(contentsOf: TestSupport.packageRoot.appendingPathComponent("deploy/conviction-stream.service"), encoding: .utf8)
        let exec = try #require(unit.split(separator: "\n").first { $0.hasPrefix("ExecStart=") }).dropFirst("ExecStart=".count)
        var words = exec.split(separator: " ").map(String.init)
        #expect(words.first == "/opt/conviction/bin/conviction")
        words[0] = root.appendingPathComponent("bin/conviction").path
        let help = try await TestSupport.runOffPool(words[0], Array(words.dropFirst()) + ["--help"], in: root, environment: environment(root), timeout: 60)
        #expect(help.status == 0 && help.stdout.contains("filtered stream"), "\(help.stdout)\(help.stderr)")
        for line in ["Restart=on-failure", "TimeoutStopSec=", "EnvironmentFile=/etc/conviction/conviction.env", "KillSignal=SIGTERM"] {
            #expect(unit.contains(line), "the unit sets \(line)")
        }
        let dockerfile = try String(contentsOf: TestSupport.packageRoot.appendingPathComponent("deploy/Dockerfile"), encoding: .utf8)
        let version = root.lastPathComponent.replacingOccurrences(of: "conviction-", with: "").replacingOccurrences(of: "-linux-x86_64", with: "")
        #expect(dockerfile.contains("FROM debian:bookworm-slim") && dockerfile.contains("ARG VERSION=\(version)"))
        #expect(dockerfile.contains("dist/conviction-${VERSION}-linux-x86_64.tar.gz"))
        for package in ["libsqlite3-0", "zlib1g", "ca-certificates"] { #expect(dockerfile.contains(package)) }
    }
}
