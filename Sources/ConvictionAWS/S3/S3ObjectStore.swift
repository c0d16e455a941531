import ConvictionCore
import ConvictionHTTP
import ConvictionStore
import Crypto
import Foundation

/// The object store on Amazon S3 (or any S3-compatible endpoint): `s3://bucket/prefix` maps key
/// `k` to object `prefix/k`. Addressing is virtual-hosted (`bucket.s3.region.amazonaws.com/k`) on
/// AWS and path-style (`endpoint/bucket/k`) on a custom endpoint or for bucket names with dots.
///
/// Single PUTs carry `Content-MD5`, so S3 rejects a body damaged in transit; objects above
/// `multipartThreshold` are uploaded in parts (aborted on failure, so no orphaned parts are left).
/// GETs of single-part objects are checked against their ETag (the MD5 of the bytes).
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
        let md5 = Data(Insecure.MD5.hash(data: data))
        let response = try await client.send("PUT", path: path(key), headers: [("content-md5", md5.base64EncodedString())], body: data)
        if let etag = response.header("etag")?.trimmingCharacters(in: CharacterSet(charactersIn: "\"")), etag != SigV4Signer.hex(md5) {
            throw StoreError(key: key, message: "S3 stored a different body (ETag \(etag) is not the MD5 of what was sent)")
        }
    }

    /// A conditional PUT (`If-None-Match: *`): S3 answers 412 when the key exists, and 409 when a
    /// racing conditional write to the same key is in progress; both mean another writer won.
    public func create(_ key: String, data: Data) async throws -> Bool {
        try ObjectKey.validate(key)
        let md5 = Data(Insecure.MD5.hash(data: data))
        let response = try await client.send("PUT", path: path(key), headers: [("content-md5", md5.base64EncodedString()), ("if-none-match", "*")],
                                             body: data, expecting: [409, 412])
        return (200..<300).contains(response.status)
    }

    func putMultipart(_ key: String, data: Data) async throws {
        let started = try await client.send("POST", path: path(key), query: [("uploads", "")])
        guard let uploadID = XMLText.first("UploadId", in: String(decoding: started.body, as: UTF8.self)) else {
            throw StoreError(key: key, message: "S3 did not return an UploadId")
        }
        do {
            var parts: [(Int, String)] = []
            var offset = 0
            while offset < data.count {
                let chunk = data.subdata(in: offset..<min(data.count, offset + partSize))
                let number = parts.count + 1
                let md5 = Data(Insecure.MD5.hash(data: chunk)).base64EncodedString()
                let response = try await client.send("PUT", path: path(key), query: [("partNumber", String(number)), ("uploadId", uploadID)],
                                                     headers: [("content-md5", md5)], body: chunk)
                parts.append((number, response.header("etag") ?? ""))
                offset += chunk.count
            }
            let xml = "<CompleteMultipartUpload>" + parts.map { "<Part><PartNumber>\($0.0)</PartNumber><ETag>\(XMLText.escape($0.1))</ETag></Part>" }.joined()
                + "</CompleteMultipartUpload>"
            let done = try await client.send("POST", path: path(key), query: [("uploadId", uploadID)], body: Data(xml.utf8))
            // S3 can answer 200 with an error in the body.
            if let code = XMLText.first("Code", in: String(decoding: done.body, as: UTF8.self)) {
                throw AWSError(code: code, message: "CompleteMultipartUpload failed for \(key)", status: done.status)
            }
        } catch {
            _ = try? await client.send("DELETE", path: path(key), query: [("uploadId", uploadID)], expecting: [404])
            throw error
        }
    }

    public func get(_ key: String) async throws -> Data {
        try ObjectKey.validate(key)
        let response = try await client.send("GET", path: path(key), expecting: [404])
        guard response.status != 404 else { throw StoreError(key: key, message: "no such object in \(location)", code: .missingInput) }
        if let etag = response.header("etag")?.trimmingCharacters(in: CharacterSet(charactersIn: "\"")), !etag.contains("-"),
           etag != SigV4Signer.hex(Insecure.MD5.hash(data: response.body)) {
            throw StoreError(key: key, message: "integrity check failed: body does not match its ETag")
        }
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
