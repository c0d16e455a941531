import ConvictionCore
import Foundation

/// The few EC2 Query API calls the GPU path needs (version 2016-11-15), signed with SigV4:
/// spot instances launched from a launch template (`RunInstances` with spot market options, the
/// form AWS recommends over `RequestSpotInstances`), found again by tag, terminated; spot prices
/// for a cost estimate.
public struct EC2Client: Sendable {
    public struct Instance: Sendable, Equatable {
        public let id: String
        public let type: String
        public let state: String
        /// `spot`, or empty for on-demand.
        public let lifecycle: String
        public let zone: String
        public let launchTime: String
        public let privateIP: String
    }

    public struct SpotPrice: Sendable, Equatable {
        public let zone: String
        public let pricePerHour: Double
    }

    /// What `launch` asks for.
    public struct LaunchRequest: Sendable {
        /// A template name, or its id (`lt-...`).
        public var template: String
        public var templateVersion = "$Default"
        /// Overrides the template's type when set.
        public var instanceType: String?
        public var count = 1
        /// Highest price per instance-hour; nil = up to the on-demand price (AWS's default).
        public var maxPrice: String?
        /// Tags put on each instance, so `status` and `terminate` find them.
        public var tags: [(String, String)] = []
        public init(template: String) { self.template = template }
    }

    /// The tag every instance Conviction launches carries.
    public static let roleTag = "conviction:role"

    let client: AWSHTTPClient

    public init(configuration: AWSConfiguration) throws {
        client = try AWSHTTPClient(configuration: configuration, service: "ec2")
    }

    /// One Query API call; the XML answer. With `dryRun`, EC2 checks permissions and parameters
    /// and answers `DryRunOperation` (HTTP 412) instead of acting: that is success here.
    public func call(_ action: String, _ parameters: [(String, String)], dryRun: Bool = false) async throws -> String {
        var form = [("Action", action), ("Version", "2016-11-15")] + parameters
        if dryRun { form.append(("DryRun", "true")) }
        let body = form.map { "\(SigV4Signer.uriEncode($0.0))=\(SigV4Signer.uriEncode($0.1))" }.joined(separator: "&")
        let response = try await client.send("POST", path: "/", headers: [("content-type", "application/x-www-form-urlencoded; charset=utf-8")],
                                             body: Data(body.utf8), expecting: dryRun ? [412] : [])
        let xml = String(decoding: response.body, as: UTF8.self)
        if dryRun {
            let code = XMLText.first("Code", in: xml)
            guard code == "DryRunOperation" else {
                throw AWSError(code: code ?? "HTTP\(response.status)", message: XMLText.first("Message", in: xml) ?? "dry run of \(action) was refused", status: response.status)
            }
        }
        return xml
    }

    /// Launches spot instances; with `dryRun` only checks that the launch would be allowed (no instances).
    public func launch(_ request: LaunchRequest, dryRun: Bool = false) async throws -> [Instance] {
        // All or nothing: a partial fleet would leave part of the queue without workers unexpectedly.
        // One token per launch: a retry after a lost response cannot start a second set of instances.
        var p: [(String, String)] = [("MinCount", String(request.count)), ("MaxCount", String(request.count)), ("ClientToken", UUID().uuidString)]
        p.append(request.template.hasPrefix("lt-") ? ("LaunchTemplate.LaunchTemplateId", request.template) : ("LaunchTemplate.LaunchTemplateName", request.template))
        p.append(("LaunchTemplate.Version", request.templateVersion))
        if let type = request.instanceType { p.append(("InstanceType", type)) }
        p += [("InstanceMarketOptions.MarketType", "spot"),
              ("InstanceMarketOptions.SpotOptions.SpotInstanceType", "one-time"),
              ("InstanceMarketOptions.SpotOptions.InstanceInterruptionBehavior", "terminate")]
        if let maxPrice = request.maxPrice { p.append(("InstanceMarketOptions.SpotOptions.MaxPrice", maxPrice)) }
        if !request.tags.isEmpty {
            p.append(("TagSpecification.1.ResourceType", "instance"))
            for (n, (key, value)) in request.tags.enumerated() {
                p += [("TagSpecification.1.Tag.\(n + 1).Key", key), ("TagSpecification.1.Tag.\(n + 1).Value", value)]
            }
        }
        let xml = try await call("RunInstances", p, dryRun: dryRun)
        return dryRun ? [] : Self.instances(in: xml)
    }

    /// The instance type a launch template's default version names.
    public func templateInstanceType(_ template: String) async throws -> String {
        let xml = try await call("DescribeLaunchTemplateVersions", [
            template.hasPrefix("lt-") ? ("LaunchTemplateId", template) : ("LaunchTemplateName", template), ("LaunchTemplateVersion.1", "$Default"),
        ])
        guard let type = XMLText.first("instanceType", in: xml) else {
            throw AWSError(code: "MissingInstanceType", message: "launch template \(template) names no instance type; set gpu.instance_type")
        }
        return type
    }

    /// Instances carrying `conviction:role = role` that are not terminated.
    public func instances(role: String) async throws -> [Instance] {
        let xml = try await call("DescribeInstances", [
            ("Filter.1.Name", "tag:\(Self.roleTag)"), ("Filter.1.Value.1", role),
            ("Filter.2.Name", "instance-state-name"), ("Filter.2.Value.1", "pending"), ("Filter.2.Value.2", "running"),
            ("Filter.2.Value.3", "stopping"), ("Filter.2.Value.4", "stopped"), ("Filter.2.Value.5", "shutting-down"),
        ])
        return Self.instances(in: xml)
    }

    /// Terminates instances; the answer lists each one's new state.
    public func terminate(_ ids: [String], dryRun: Bool = false) async throws -> [Instance] {
        guard !ids.isEmpty else { return [] }
        let xml = try await call("TerminateInstances", ids.enumerated().map { ("InstanceId.\($0.offset + 1)", $0.element) }, dryRun: dryRun)
        return dryRun ? [] : Self.instances(in: xml)
    }

    /// The latest Linux spot price per availability zone for an instance type, cheapest first.
    public func spotPrices(instanceType: String) async throws -> [SpotPrice] {
        let xml = try await call("DescribeSpotPriceHistory", [
            ("InstanceType.1", instanceType), ("ProductDescription.1", "Linux/UNIX"),
            ("StartTime", Timestamps.iso8601(Timestamps.now())),
        ])
        var latest: [String: Double] = [:]
        for item in XMLText.all("spotPriceHistorySet", in: xml).flatMap(Self.items) {
            guard let zone = XMLText.first("availabilityZone", in: item), let price = XMLText.first("spotPrice", in: item).flatMap(Double.init) else { continue }
            if latest[zone] == nil { latest[zone] = price }  // newest first in EC2's answer
        }
        return latest.map { SpotPrice(zone: $0.key, pricePerHour: $0.value) }.sorted { ($0.pricePerHour, $0.zone) < ($1.pricePerHour, $1.zone) }
    }

    /// The instances of an answer: the items of every `<instancesSet>`.
    static func instances(in xml: String) -> [Instance] {
        XMLText.all("instancesSet", in: xml).flatMap(items).compactMap { item in
            guard let id = XMLText.first("instanceId", in: item) else { return nil }
            let state = (XMLText.first("currentState", in: item) ?? XMLText.first("instanceState", in: item)).flatMap { XMLText.first("name", in: $0) } ?? ""
            return Instance(id: id, type: XMLText.first("instanceType", in: item) ?? "", state: state,
                            lifecycle: XMLText.first("instanceLifecycle", in: item) ?? "",
                            zone: XMLText.first("availabilityZone", in: item) ?? "", launchTime: XMLText.first("launchTime", in: item) ?? "",
                            privateIP: XMLText.first("privateIpAddress", in: item) ?? "")
        }
    }

    /// The top-level `<item>` elements of a set's content (items nest: tag sets, interfaces).
    static func items(in content: String) -> [String] {
        var result: [String] = []
        var depth = 0
        var start = content.startIndex
        var cursor = content.startIndex
        while let close = content.range(of: "</item>", range: cursor..<content.endIndex) {
            if let open = content.range(of: "<item>", range: cursor..<content.endIndex), open.lowerBound < close.lowerBound {
                if depth == 0 { start = open.upperBound }
                depth += 1
                cursor = open.upperBound
            } else {
                depth -= 1
                guard depth >= 0 else { break }
                if depth == 0 { result.append(String(content[start..<close.lowerBound])) }
                cursor = close.upperBound
            }
        }
        return result
    }
}
