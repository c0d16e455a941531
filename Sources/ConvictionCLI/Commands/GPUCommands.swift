import ArgumentParser
import ConvictionAWS
import ConvictionCore
import ConvictionLLMEmulator
import ConvictionPipeline
import Foundation
import Logging

extension Conviction {
    struct GPU: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "gpu",
            abstract: "Spot GPU instances for LLM scoring on AWS: launch, status, terminate.",
            discussion: """
            Instances come from an EC2 launch template (gpu.launch_template) that starts an OpenAI-compatible
            server and `conviction score` workers on the shared S3 store; see docs/gpu.md. Every instance is tagged
            conviction:role=<gpu.role>, and status and terminate act only on instances with that tag. AWS region,
            endpoint and credentials come from the aws.* settings and the standard chain. Examples:
              conviction gpu launch --count 2 --max-price 0.60 --dry-run
              conviction gpu status
              conviction gpu terminate --all
            """,
            subcommands: [Launch.self, Status.self, Terminate.self])
    }

    struct LLMEmulatorCommand: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "llm-emulator",
            abstract: "Run a local stand-in for a GPU scoring instance: an OpenAI-compatible API and the spot notice.",
            discussion: """
            For tests and trials without a GPU: answers /v1/chat/completions and /v1/completions from the lexicon, with
            log-probabilities and usage counts, after --latency-ms, failing --error-rate of requests once (503 or 429).
            Texts containing [[llm-error]], [[llm-garbage]], [[llm-noanswer]] or [[llm-hang]] fail that way every time.
            It also serves the instance metadata spot notice (404 until POST /__emulator/interrupt). GET
            /__emulator/state reports counters. Example:
              conviction llm-emulator --port 8000 --latency-ms 40
              conviction score --llm-endpoint http://127.0.0.1:8000/v1 --llm-model emulated-fingpt
            """)
        @Option(help: "Address to bind.") var host = "127.0.0.1"
        @Option(help: "Port to bind (0 = any free port; the URL is printed).") var port = 8000
        @Option(help: "Milliseconds before each answer.") var latencyMs = 0
        @Option(help: "Share of requests failed once with 503 or 429.") var errorRate = 0.0
        @Flag(help: "Answer without log-probabilities.") var noLogprobs = false
        @Option(help: "Seed of the error draws.") var seed: UInt64 = 1

        func run() async throws {
            var behaviour = LLMEmulator.Behaviour()
            behaviour.latencyMillis = latencyMs
            behaviour.transientErrorRate = errorRate
            behaviour.logprobs = !noLogprobs
            behaviour.seed = seed
            let emulator = LLMEmulator(behaviour: behaviour)
            let url = try await emulator.start(host: host, port: port)
            FileHandle.standardOutput.write(Data("llm-emulator: serving \(url) (OpenAI-compatible API at \(url)/v1, spot notice at \(url)/latest/meta-data/spot/instance-action)\n".utf8))
            var logger = Logger(label: "conviction.llm-emulator")
            logger.logLevel = .notice
            try await GracefulShutdown.untilSignalled(logger: logger)
            await emulator.stop()
            let state = emulator.state
            print("llm-emulator: \(state.requests) requests, \(state.answeredTexts) texts answered, \(state.transientErrors) transient errors, \(state.markerFailures) marker failures, at most \(state.maxInFlight) in flight")
        }
    }
}

extension Conviction.GPU {
    struct Launch: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Launch spot instances from the launch template, after printing the plan and a cost estimate.",
            discussion: "With --dry-run, EC2 checks permissions and parameters (DryRun) and nothing is launched.")
        @OptionGroup var global: GlobalOptions
        @Option(help: "Launch template name or id (gpu.launch_template).") var template: String?
        @Option(help: "Instance type, overriding the template's (gpu.instance_type).") var instanceType: String?
        @Option(help: "Instances to launch (gpu.count).") var count: Int?
        @Option(help: "Highest spot price per instance-hour, USD (gpu.max_price).") var maxPrice: String?
        @Option(help: "Hours the cost estimate assumes (gpu.estimate_hours).") var hours: Double?

        func run() async throws {
            let configuration = try global.resolve(overrides: [
                ("gpu.launch_template", template), ("gpu.instance_type", instanceType), ("gpu.count", count.map(String.init)),
                ("gpu.max_price", maxPrice), ("gpu.estimate_hours", hours.map { String($0) })])
            let gpu = configuration.gpu
            let ec2 = try EC2Client(configuration: try await configuration.awsConfiguration())
            let type = gpu.instanceType.isEmpty ? try await ec2.templateInstanceType(gpu.launchTemplate) : gpu.instanceType
            print("plan: launch \(gpu.count) x \(type) spot instance(s) from launch template \(gpu.launchTemplate), tagged \(EC2Client.roleTag)=\(gpu.role)"
                  + (gpu.maxPrice.isEmpty ? "" : ", max price $\(gpu.maxPrice)/h"))
            print(CostEstimate.describe(prices: try await ec2.spotPrices(instanceType: type), type: type, count: gpu.count, hours: gpu.estimateHours,
                                        maxPrice: Double(gpu.maxPrice)))
            var request = EC2Client.LaunchRequest(template: gpu.launchTemplate)
            request.instanceType = gpu.instanceType.isEmpty ? nil : gpu.instanceType
            request.count = gpu.count
            request.maxPrice = gpu.maxPrice.isEmpty ? nil : gpu.maxPrice
            request.tags = [(EC2Client.roleTag, gpu.role)]
            let launched = try await ec2.launch(request, dryRun: global.dryRun)
            if global.dryRun {
                print("dry run: EC2 accepted the request (DryRunOperation); nothing was launched")
                return
            }
            for instance in launched { print("launched \(instance.id) \(instance.type) \(instance.lifecycle.isEmpty ? "on-demand" : instance.lifecycle) \(instance.state) \(instance.zone)") }
        }
    }

    struct Status: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List the GPU instances (tagged conviction:role=<gpu.role>) that are not terminated.")
        @OptionGroup var global: GlobalOptions

        func run() async throws {
            let configuration = try global.resolve()
            let ec2 = try EC2Client(configuration: try await configuration.awsConfiguration())
            let instances = try await ec2.instances(role: configuration.gpu.role)
            guard !instances.isEmpty else { return print("no instances tagged \(EC2Client.roleTag)=\(configuration.gpu.role)") }
            print("instance\ttype\tmarket\tstate\tzone\tlaunched\tprivate ip")
            for i in instances {
                print([i.id, i.type, i.lifecycle.isEmpty ? "on-demand" : i.lifecycle, i.state, i.zone, i.launchTime, i.privateIP].joined(separator: "\t"))
            }
        }
    }

    struct Terminate: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Terminate GPU instances: the ids given, or --all of them.",
                                                        discussion: "Only instances tagged conviction:role=<gpu.role> are touched; other ids are refused.")
        @OptionGroup var global: GlobalOptions
        @Flag(help: "Every instance with the role tag.") var all = false
        @Argument(help: "Instance ids.") var ids: [String] = []

        func run() async throws {
            guard all != !ids.isEmpty else { throw ValidationError("name instance ids or --all (not both)") }
            let configuration = try global.resolve()
            let ec2 = try EC2Client(configuration: try await configuration.awsConfiguration())
            let tagged = Set(try await ec2.instances(role: configuration.gpu.role).map(\.id))
            let targets = all ? tagged.sorted() : ids
            if let stranger = targets.first(where: { !tagged.contains($0) }) {
                throw ValidationError("\(stranger) is not a running instance tagged \(EC2Client.roleTag)=\(configuration.gpu.role); refusing to terminate it")
            }
            guard !targets.isEmpty else { return print("no instances to terminate") }
            let result = try await ec2.terminate(targets, dryRun: global.dryRun)
            if global.dryRun { return print("dry run: EC2 would terminate \(targets.joined(separator: ", ")); nothing was terminated") }
            for instance in result { print("\(instance.id) \(instance.state)") }
        }
    }
}

/// What a spot launch is likely to cost, from the current spot prices.
enum CostEstimate {
    static func describe(prices: [EC2Client.SpotPrice], type: String, count: Int, hours: Double, maxPrice: Double?) -> String {
        guard let cheapest = prices.first else {
            return "cost estimate: no spot price history for \(type) in this region" + (maxPrice.map { "; at most $\(String(format: "%.2f", $0 * Double(count) * hours)) at the max price" } ?? "")
        }
        let total = cheapest.pricePerHour * Double(count) * hours
        var line = "cost estimate: $\(String(format: "%.4f", cheapest.pricePerHour))/h per instance (lowest current spot price, \(cheapest.zone), \(prices.count) zone(s) quoted)"
            + " -> $\(String(format: "%.2f", total)) for \(count) instance(s) x \(String(format: "%g", hours)) h"
        if let maxPrice { line += "; at most $\(String(format: "%.2f", maxPrice * Double(count) * hours)) at the max price" }
        if let maxPrice, maxPrice < cheapest.pricePerHour { line += " (WARNING: the max price is below every quoted spot price: the request may not be fulfilled)" }
        return line
    }
}
