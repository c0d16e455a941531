import ConvictionPipeline
import ConvictionXEmulator
import Foundation

/// The demo's local X API server: ConvictionXEmulator behind the pipeline's `LocalXAPIServer`, so
/// the pipeline module never links the emulator.
struct EmulatedXAPIServer: LocalXAPIServer {
    let emulator: XAPIEmulator

    static let factory: LocalXAPIServerFactory = { token, rate, lines in
        var configuration = XAPIEmulator.Configuration(bearerToken: token)
        configuration.postsPerSecond = rate
        configuration.keepAliveInterval = .seconds(1)
        configuration.streamConnectLimit = 1_000
        return EmulatedXAPIServer(emulator: try XAPIEmulator(configuration: configuration, feedLines: lines))
    }

    func start() async throws -> String { try await emulator.start() }
    func stop() async { await emulator.stop() }
    var published: Int { emulator.state.published }
    var total: Int { emulator.state.total }
    var emittedCount: Int { emulator.emittedIDs().count }
}
