@testable import ConvictionAWS
import ConvictionCore
import ConvictionTesting
import CoreMetrics
import Foundation
import Testing

/// Reads CloudWatch back through its own APIs on moto_server.
struct CloudWatchReader {
    let monitoring: AWSHTTPClient
    let logs: AWSHTTPClient

    init(endpoint: String) throws {
        monitoring = try AWSHTTPClient(configuration: motoConfiguration(endpoint), service: "monitoring")
        logs = try AWSHTTPClient(configuration: motoConfiguration(endpoint), service: "logs")
    }

    /// One statistic of a metric over the last hour.
    func statistic(_ namespace: String, _ name: String, _ dimensions: [(String, String)], _ statistic: String) async throws -> Double? {
        let now = Date()
        var form = [("Action", "GetMetricStatistics"), ("Version", "2010-08-01"), ("Namespace", namespace), ("MetricName", name),
                    ("StartTime", ISO8601DateFormatter().string(from: now.addingTimeInterval(-3600))),
                    ("EndTime", ISO8601DateFormatter().string(from: now.addingTimeInterval(3600))), ("Period", "7200"), ("Statistics.member.1", statistic)]
        for (i, (n, v)) in dimensions.enumerated() { form += [("Dimensions.member.\(i + 1).Name", n), ("Dimensions.member.\(i + 1).Value", v)] }
        let body = form.map { "\(SigV4Signer.uriEncode($0.0))=\(SigV4Signer.uriEncode($0.1))" }.joined(separator: "&")
        let response = try await monitoring.send("POST", path: "/", headers: [("content-type", "application/x-www-form-urlencoded")], body: Data(body.utf8))
        let xml = String(decoding: response.body, as: UTF8.self)
        guard let open = xml.range(of: "<\(statistic)>"), let close = xml.range(of: "</\(statistic)>", range: open.upperBound..<xml.endIndex) else { return nil }
        return Double(xml[open.upperBound..<close.lowerBound])
    }

    /// Every event of a log stream, oldest first.
    func events(group: String, stream: String) async throws -> [(timestamp: Int64, message: String)] {
        var events: [(Int64, String)] = []
        var token: String?
        while true {
            var request: [String: Any] = ["logGroupName": group, "logStreamName": stream, "startFromHead": true]
            if let token { request["nextToken"] = token }
            let response = try await logs.send("POST", path: "/", headers: [("content-type", "application/x-amz-json-1.1"), ("x-amz-target", "Logs_20140328.GetLogEvents")],
                                               body: try JSONSerialization.data(withJSONObject: request))
            let object = try #require(try JSONSerialization.jsonObject(with: response.body) as? [String: Any])
            let page = (object["events"] as? [[String: Any]] ?? []).map { (($0["timestamp"] as? NSNumber)?.int64Value ?? 0, $0["message"] as? String ?? "") }
            let next = object["nextForwardToken"] as? String
            if page.isEmpty || next == token { break }
            events += page
            token = next
        }
        return events
    }
}

@Suite(.enabled(if: TestSupport.motoEndpoint != nil, "needs moto_server: run through `make test`"), .timeLimit(.minutes(10)))
struct CloudWatchTests {
    let endpoint = TestSupport.motoEndpoint ?? ""

    /// 1,205 counter series, a timer and a gauge: two PutMetricData calls (at most 1,000 data each),
    /// read back with GetMetricStatistics; a second flush sends the counters' zero increase.
    @Test func metricsGoOutInBatchesWithinTheLimitsAndReadBack() async throws {
        let namespace = "ConvictionTest/\(UUID().uuidString.prefix(8))"
        let factory = try CloudWatchMetricsFactory(configuration: motoConfiguration(endpoint), namespace: namespace)
        for i in 0..<1205 {
            factory.makeCounter(label: "conviction_ingest_posts_total", dimensions: [("symbol", "S\(i)")]).increment(by: Int64(i % 7 + 1))
        }
        let timer = factory.makeTimer(label: "conviction_pipeline_stage_seconds", dimensions: [("stage", "score")])
        for seconds in [1.5, 2.5, 4.0] { timer.recordNanoseconds(Int64(seconds * 1e9)) }
        factory.makeRecorder(label: "conviction_score_fallback_share", dimensions: [], aggregate: false).record(0.25)
        #expect(try await factory.flush() == 1209, "1,205 symbols and their total, the timer and its total, the gauge")
        #expect(factory.requests == 2, "1,209 data in two calls of at most 1,000")

        let reader = try CloudWatchReader(endpoint: endpoint)
        #expect(try await reader.statistic(namespace, "conviction_ingest_posts_total", [("symbol", "S13")], "Sum") == 7)
        // moto does not narrow a query without dimensions to the dimensionless series, so the total shows as the Maximum.
        #expect(try await reader.statistic(namespace, "conviction_ingest_posts_total", [], "Maximum") == Double((0..<1205).map { $0 % 7 + 1 }.reduce(0, +)),
                "the dimensionless total the alarms use")
        #expect(try await reader.statistic(namespace, "conviction_pipeline_stage_seconds", [("stage", "score")], "SampleCount") == 3)
        #expect(try await reader.statistic(namespace, "conviction_pipeline_stage_seconds", [("stage", "score")], "Maximum") == 4)
        #expect(try await reader.statistic(namespace, "conviction_score_fallback_share", [], "Average") == 0.25)

        #expect(try await factory.flush() == 1207, "counters and their total again (at 0) and the gauge; the timer had nothing new")
        #expect(factory.requests == 4)
        #expect(try await reader.statistic(namespace, "conviction_ingest_posts_total", [("symbol", "S13")], "SampleCount") == 2)
    }

    /// 12,001 lines given out of time order, one over CloudWatch's event size: shipped in time
    /// order in calls of at most 10,000 events, and read back whole.
    @Test func logLinesAreShippedInTimeOrderInBatchesAndReadBack() async throws {
        let group = "/conviction-test/\(UUID().uuidString.prefix(8))"
        let shipper = try CloudWatchLogShipper(configuration: motoConfiguration(endpoint), group: group, stream: "host/test/1", capacity: 20_000)
        let base = Timestamps.now() - 60_000
        for i in 0..<12_000 { shipper.accept(timestamp: base + Int64((i * 7919) % 12_000), line: "line \(i)") }
        shipper.accept(timestamp: base + 12_000, line: String(repeating: "x", count: 300_000))
        #expect(try await shipper.flush() == 12_001)
        #expect(shipper.putCalls == 2)
        let events = try await CloudWatchReader(endpoint: endpoint).events(group: group, stream: "host/test/1")
        #expect(events.count == 12_001)
        #expect(zip(events, events.dropFirst()).allSatisfy { $0.0.timestamp <= $0.1.timestamp }, "in time order")
        #expect(events.last?.message.hasSuffix("[truncated]") == true && (events.last?.message.utf8.count ?? 0) <= CloudWatchLogShipper.maxEventBytes)
        #expect(try await shipper.flush() == 0)
    }

    /// A full buffer drops and counts instead of waiting; a failed send keeps the lines for the next one.
    @Test func aFullBufferDropsAndCountsAndAFailedSendKeepsTheLines() async throws {
        var configuration = motoConfiguration("http://127.0.0.1:9")  // nothing listens
        configuration.region = "us-east-1"
        let shipper = try CloudWatchLogShipper(configuration: configuration, group: "/g", stream: "s", capacity: 100)
        for i in 0..<150 { shipper.accept(timestamp: Timestamps.now(), line: "line \(i)") }
        #expect(shipper.dropped == 50)
        await #expect(throws: AWSError.self) { try await shipper.flush() }
        #expect(shipper.dropped == 50, "the 100 lines went back into the buffer")
        let moto = try CloudWatchLogShipper(configuration: motoConfiguration(endpoint), group: "/g-\(UUID().uuidString.prefix(8))", stream: "s", capacity: 100)
        #expect(CloudWatchLogShipper.batches((0..<25_000).map { .init(timestamp: Int64($0), message: "m", sequence: $0) }).map(\.count) == [10_000, 10_000, 5_000])
        #expect(moto.dropped == 0)
    }

    /// The alarm definitions in docs/aws.md are valid PutMetricAlarm requests (botocore's service
    /// model), and moto_server accepts them.
    @Test func theDocumentedAlarmsAreValidPutMetricAlarmRequests() async throws {
        let docs = try String(contentsOf: TestSupport.packageRoot.appendingPathComponent("docs/aws.md"), encoding: .utf8)
        let section = try #require(docs.components(separatedBy: "### Alarms").last?.components(separatedBy: "\n## ").first)
        let alarms = section.components(separatedBy: "```json\n").dropFirst()
            .map { $0.components(separatedBy: "\n```").first ?? "" }
        #expect(alarms.count == 3)
        let script = #"""
        import sys, json, boto3
        from botocore.validate import validate_parameters
        cw = boto3.client("cloudwatch", endpoint_url=sys.argv[1], region_name="us-east-1")
        shape = cw.meta.service_model.operation_model("PutMetricAlarm").input_shape
        for text in sys.argv[2:]:
            alarm = json.loads(text)
            validate_parameters(alarm, shape)
            cw.put_metric_alarm(**alarm)
            print("ok", alarm["AlarmName"])
        """#
        let result = try await TestSupport.runOffPool(TestSupport.python ?? "/usr/bin/python3", ["-c", script, endpoint] + alarms,
                                         environment: ["AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "PATH": "/usr/bin:/bin"], timeout: 120)
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout.components(separatedBy: "ok ").count - 1 == 3)
    }
}
