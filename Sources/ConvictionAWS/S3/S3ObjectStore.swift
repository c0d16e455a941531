import ConvictionCore
import ConvictionHTTP
import ConvictionStore
import Crypto
import Foundation

/// The object store on Amazon S3 (or any S3-compatible endpoint): `s3://bucket/prefix` maps key
/// `k` to object `prefix/k`. Addressing is virtual-hosted (`bucket.s3.region.amazonaws.com/k`) on
/// AWS and path-style (`endpoint/bucket/k`) on a custom endpoint or for bucket names with dots.
///
/// Integrity never relies on the ETag (not an MD5 under SSE-KMS or for multipart objects): every
/// PUT and part carries `Content-MD5` and `x-amz-checksum-crc32c`, so S3 rejects a body damaged in
/// transit; objects above `multipartThreshold` are uploaded in parts with a full-object CRC32C
/// (aborted on failure, so no orphaned parts are left); GETs ask for the stored checksum and check
/// the body against it (`S3Checksum`).
public struct S3ObjectStore: ObjectStore {
    public let bucket: String
    /// Key prefix inside the bucket, without leading or trailing `/`; may be empty.
    public let prefix: String
    public var multipartThreshold = 16 << 20
    public var partSize = 8 << 20
    /// Keys per ListObjectsV2 page (S3's maximum is 1000).
    public var listPageSize = 1000
    let client: AWSHTTPClient
    public enum Addressing: String, Sendable { case path, virtualHosted }
    public let addressing: Addressing

    public init(bucket: String, prefix: String, configuration: AWSConfiguration, addressing requested: Addressing? = nil,
                retry: RetryPolicy = AWSHTTPClient.defaultRetry, clock: any TimeSource = SystemTimeSource()) throws {
        guard !bucket.isEmpty, bucket.allSatisfy({ $0.isLowercase || $0.isNumber || $0 == "-" || $0 == "." }) else {
            throw AWSError(code: "InvalidBucketName", message: "\(bucket.debugDescription) is not a valid bucket name")
        }
        self.bucket = bucket
        self.prefix = prefix.split(separator: "/").joined(separator: "/")
        var configuration = configuration
        let addressing = requested ?? (configuration.endpoint == nil && !bucket.contains(".") ? .virtualHosted : .path)
        let endpoint = configuration.endpoint ?? "https://s3.\(configuration.region).amazonaws.com"
        if addressing == .virtualHosted {
            guard let url = URL(string: endpoint), let scheme = url.scheme, let host = url.host else {
                throw AWSError(code: "InvalidEndpoint", message: "not an http(s) URL: \(endpoint)")
            }
            configuration.endpoint = "\(scheme)://\(bucket).\(host)" + (url.port.map { ":\($0)" } ?? "")
        } else {
            configuration.endpoint = endpoint
        }
        self.addressing = addressing
        client = try AWSHTTPClient(configuration: configuration, service: "s3", retry: retry, clock: clock)
    }

    /// The request path of the bucket itself: `/bucket` path-style, `/` virtual-hosted.
    var bucketPath: String { addressing == .path ? "/\(bucket)" : "/" }

    /// The URL an object is requested at (for messages and tests).
    public func url(for key: String) -> String { "\(client.scheme)://\(client.hostHeader)\(path(key))" }

    /// Parses `s3://bucket/prefix`.
    public init(url: String, configuration: AWSConfiguration) throws {
        guard url.hasPrefix("s3://") else { throw AWSError(code: "InvalidURL", message: "not an s3:// URL: \(url)") }
        let rest = url.dropFirst(5)
        let bucket = rest.prefix { $0 != "/" }
        try self.init(bucket: String(bucket), prefix: String(rest.dropFirst(bucket.count)), configuration: configuration)
    }

    public var location: String { "s3://\(bucket)" + (prefix.isEmpty ? "" : "/\(prefix)") }
    public var isShared: Bool { true }

    func objectName(_ key: String) -> String { prefix.isEmpty ? key : prefix + "/" + key }

    /// `/bucket/segment/segment` (path-style) or `/segment/segment`, each segment percent-encoded
    /// once (S3's SigV4 rule).
    func path(_ key: String) -> String {
        (addressing == .path ? "/\(bucket)/" : "/") + objectName(key).split(separator: "/", omittingEmptySubsequences: false).map { SigV4Signer.uriEncode(String($0)) }.joined(separator: "/")
    }

    /// Creates the bucket when it does not exist (for local endpoints and first runs).
    public func createBucketIfNeeded() async throws {
        let head = try await client.send("HEAD", path: bucketPath, expecting: [404, 403])
        if head.status == 404 { _ = try await client.send("PUT", path: bucketPath, expecting: [409]) }
    }

    public func put(_ key: String, data: Data) async throws {
        try ObjectKey.validate(key)
        if data.count > multipartThreshold { return try await putMultipart(key, data: data) }
        _ = try await client.send("PUT", path: path(key), headers: Self.integrityHeaders(data), body: data)
    }

    /// `Content-MD5` and a CRC32C for S3 to check the body against.
    static func integrityHeaders(_ data: Data) -> [(String, String)] {
        [("content-md5", Data(Insecure.MD5.hash(data: data)).base64EncodedString()),
         ("x-amz-sdk-checksum-algorithm", "CRC32C"), ("x-amz-checksum-crc32c", S3Checksum.crc32c(data))]
    }

    /// A conditional PUT (`If-None-Match: *`): S3 answers 412 when the key exists, and 409 when a
    /// racing conditional write to the same key is in progress; both mean another writer won.
    public func create(_ key: String, data: Data) async throws -> Bool {
        try ObjectKey.validate(key)
        let response = try await client.send("PUT", path: path(key), headers: Self.integrityHeaders(data) + [("if-none-match", "*")],
                                             body: data, expecting: [409, 412])
        return (200..<300).contains(response.status)
    }

    func putMultipart(_ key: String, data: Data) async throws {
        try await write(key) { try await $0.write(data) }
    }

    public func get(_ key: String) async throws -> Data {
        try ObjectKey.validate(key)
        let response = try await client.send("GET", path: path(key), headers: [("x-amz-checksum-mode", "ENABLED")], expecting: [404])
        guard response.status != 404 else { throw StoreError(key: key, message: "no such object in \(location)", code: .missingInput) }
        _ = try S3Checksum.verify(response.body, headers: response.headers, key: key)
        return response.body
    }

    /// Bytes `range` of an object (`Range: bytes=a-b`).
    public func get(_ key: String, range: ClosedRange<Int>) async throws -> Data {
        try ObjectKey.validate(key)
        let response = try await client.send("GET", path: path(key), headers: [("range", "bytes=\(range.lowerBound)-\(range.upperBound)")], expecting: [404])
        guard response.status != 404 else { throw StoreError(key: key, message: "no such object in \(location)", code: .missingInput) }
        return response.body
    }

    public func exists(_ key: String) async throws -> Bool {
        try ObjectKey.validate(key)
        return try await client.send("HEAD", path: path(key), expecting: [404]).status != 404
    }

    public func list(prefix keyPrefix: String) async throws -> [String] {
        var keys: [String] = []
        var token: String?
        let fullPrefix = objectName(keyPrefix)
        let strip = prefix.isEmpty ? 0 : prefix.count + 1
        repeat {
            var query = [("list-type", "2"), ("prefix", fullPrefix), ("max-keys", String(listPageSize))]
            if let token { query.append(("continuation-token", token)) }
            let response = try await client.send("GET", path: bucketPath, query: query)
            let xml = String(decoding: response.body, as: UTF8.self)
            keys += XMLText.all("Key", in: xml).map { String($0.dropFirst(strip)) }
            token = XMLText.first("IsTruncated", in: xml) == "true" ? XMLText.first("NextContinuationToken", in: xml) : nil
        } while token != nil
        return keys.filter { !$0.hasPrefix(".tmp-") }.sorted()
    }

    public func delete(_ key: String) async throws {
        try ObjectKey.validate(key)
        _ = try await client.send("DELETE", path: path(key), expecting: [404])
    }

}
