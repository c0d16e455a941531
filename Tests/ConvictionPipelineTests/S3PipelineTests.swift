import ConvictionAWS
import ConvictionCore
import ConvictionFeatures
import ConvictionIngest
import ConvictionModeling
import ConvictionPipeline
import ConvictionStore
import ConvictionTesting
import Foundation
import Logging
import Testing

/// The whole pipeline with the store on S3 (moto_server), and a second "machine" that resumes
/// from the completion markers with an empty catalog of its own.
@Suite(.enabled(if: TestSupport.motoEndpoint != nil && TestSupport.xgboostLibrary != nil,
                "needs moto_server and libxgboost: run through `make test`"), .timeLimit(.minutes(10)))
struct S3PipelineTests {
    func context(bucket: String, catalog: String) async throws -> PipelineContext {
        var configuration = ConvictionConfiguration.demo
        configuration.simulationDelivery = .replay
        configuration.dataDir = "s3://\(bucket)/conviction"
        configuration.aws.endpoint = TestSupport.motoEndpoint!
        configuration.aws.createBucket = true
        configuration.catalogPath = catalog
        configuration.symbols = [Symbol("AAPL"), Symbol("TSLA")]
        configuration.simulation.sessions = 8
        configuration.training.folds = 3
        configuration.training.bootstrapReplicates = 50
        configuration.features.includeSentiment = true
        var logger = Logger(label: "s3")
        logger.logLevel = .warning
        return try await PipelineContext.open(configuration, logger: logger, environment: [
            "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "HOME": "/nonexistent"])
    }

    @Test func runsEndToEndOnS3AndAnotherMachineResumes() async throws {
        let bucket = TestSupport.uniqueBucket("pipeline")
        let dir = TestSupport.temporaryDirectory("s3-catalog")
        let first = try await Pipeline(context: try await context(bucket: bucket, catalog: dir.appendingPathComponent("a.sqlite").path),
                                       options: .init()).run()
        #expect(!first.failed)
        let report = try #require(first.report)
        #expect(report.result.testRows > 0)
        let ctx = try await context(bucket: bucket, catalog: dir.appendingPathComponent("b.sqlite").path)
        #expect(try await ctx.store.list(prefix: "features/").contains("features/feature_metadata.json"))
        #expect(try await ctx.store.list(prefix: "_markers/").count > 10)
        // Machine B: fresh local catalog, same bucket: everything is found done.
        let second = try await Pipeline(context: ctx, options: .init()).run()
        #expect(second.outcomes.filter { $0.stage != "validate" }.allSatisfy { $0.done == 0 && $0.skipped > 0 }, "\(second.outcomes.map(\.summary))")
        #expect(second.report?.result == report.result)
    }
}
