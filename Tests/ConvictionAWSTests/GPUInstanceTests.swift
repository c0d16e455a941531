import ConvictionAWS
import ConvictionCore
import ConvictionLLMEmulator
import ConvictionStore
import ConvictionTesting
import Foundation
import Testing

/// Exclusive creation on both backends, leases on S3, and the GPU path's AWS calls: EC2 spot
/// instances from a launch template against the signature-checking moto_server.
@Suite(.timeLimit(.minutes(10))) struct GPUInstanceTests {
    static let backends: [Backend] = TestSupport.motoEndpoint == nil ? [.local] : Backend.allCases

    @Test(arguments: backends)
    func createIsExclusiveAndLeasesWork(_ backend: Backend) async throws {
        let store = try #require(try await backend.make("create"))
        #expect(try await store.create("_leases/x/1.json", data: Data("a".utf8)))
        #expect(try await !store.create("_leases/x/1.json", data: Data("b".utf8)))
        #expect(try await store.get("_leases/x/1.json") == Data("a".utf8))
        let boards = (1...4).map { LeaseBoard(store: store, queue: "score", worker: "w\($0)", ttl: .seconds(60), host: "host-\($0)", pid: Int32($0)) }
        // Racing workers: exactly one gets the unit.
        let attempts = await withTaskGroup(of: LeaseBoard.Attempt?.self) { group in
            for board in boards { group.addTask { try? await board.acquire("raw/posts/dt=2026-01-05/symbol=AAPL/") } }
            return await group.reduce(into: []) { $0.append($1) }
        }
        #expect(attempts.filter { if case .acquired? = $0 { true } else { false } }.count == 1, "\(attempts)")
    }

    @Test(.enabled(if: TestSupport.motoAuth != nil, "needs moto_server: run through `make test`"))
    func spotInstancesFromALaunchTemplate() async throws {
        let auth = try #require(TestSupport.motoAuth)
        let ec2 = try EC2Client(configuration: motoConfiguration(auth.endpoint, keyID: auth.keyID, secret: auth.secret))
        let name = "conviction-gpu-\(UUID().uuidString.prefix(6))"
        _ = try await ec2.call("CreateLaunchTemplate", [("LaunchTemplateName", name), ("LaunchTemplateData.ImageId", "ami-12c6146b"),
                                                        ("LaunchTemplateData.InstanceType", "g5.xlarge")])
        #expect(try await ec2.templateInstanceType(name) == "g5.xlarge")
        let role = "gpu-test-\(UUID().uuidString.prefix(6))"
        var request = EC2Client.LaunchRequest(template: name)
        request.count = 2
        request.maxPrice = "0.60"
        request.tags = [(EC2Client.roleTag, role)]
        // A dry run checks and launches nothing.
        #expect(try await ec2.launch(request, dryRun: true).isEmpty)
        #expect(try await ec2.instances(role: role).isEmpty)
        let launched = try await ec2.launch(request)
        #expect(launched.count == 2 && launched.allSatisfy { $0.lifecycle == "spot" && $0.type == "g5.xlarge" }, "\(launched)")
        let listed = try await ec2.instances(role: role)
        #expect(Set(listed.map(\.id)) == Set(launched.map(\.id)))
        #expect(listed.allSatisfy { $0.state == "running" || $0.state == "pending" })
        let prices = try await ec2.spotPrices(instanceType: "g5.xlarge")
        #expect(!prices.isEmpty && zip(prices, prices.dropFirst()).allSatisfy { $0.pricePerHour <= $1.pricePerHour })
        // Dry-run terminate changes nothing; the real one does.
        #expect(try await ec2.terminate(launched.map(\.id), dryRun: true).isEmpty)
        #expect(try await ec2.instances(role: role).count == 2)
        let terminated = try await ec2.terminate(launched.map(\.id))
        #expect(terminated.count == 2 && terminated.allSatisfy { $0.state == "shutting-down" || $0.state == "terminated" }, "\(terminated)")
        // An unknown template is an error naming it.
        await #expect { _ = try await ec2.launch(EC2Client.LaunchRequest(template: "no-such-template")) } throws: { error in
            "\(error)".contains("no-such-template") || "\(error)".contains("LaunchTemplate")
        }
    }

    @Test(.enabled(if: TestSupport.motoAuth != nil, "needs the signature-checking moto_server: run through `make test`"))
    func wrongCredentialsAreRefusedBySignatureChecks() async throws {
        let auth = try #require(TestSupport.motoAuth)
        let ec2 = try EC2Client(configuration: motoConfiguration(auth.endpoint, keyID: auth.keyID, secret: "not-the-secret"))
        await #expect(throws: AWSError.self) { _ = try await ec2.instances(role: "any") }
    }
}

/// The spot notice from a local metadata service (an in-process server: `make test` runs this suite
/// with the other timing-sensitive ones, apart from the CPU-bound suites).
@Suite(.timeLimit(.minutes(1))) struct SpotNoticeTests {
    @Test func theSpotNoticeIsReadFromInstanceMetadata() async throws {
        let emulator = LLMEmulator()
        let url = try await emulator.start()
        #expect(try await SpotInterruptionNotice.check(endpoint: url) == nil)
        let watching = Task { await SpotInterruptionNotice.watch(endpoint: url, interval: .milliseconds(50)) }
        // The watcher keeps polling while there is no notice: wait for two polls (an event, not a sleep).
        let before = emulator.state.spotPolls
        let deadline = ContinuousClock.now + .seconds(30)
        while emulator.state.spotPolls < before + 2 && ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(5)) }
        #expect(emulator.state.spotPolls >= before + 2, "the watcher polls until a notice appears")
        emulator.interrupt()
        let notice = await watching.value
        await emulator.stop()
        #expect(notice?.action == "terminate" && notice?.time.isEmpty == false)
    }
}
