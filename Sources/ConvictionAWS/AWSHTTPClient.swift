import AsyncHTTPClient
import ConvictionCore
import ConvictionHTTP
import Foundation
import NIOCore
import NIOHTTP1

/// Signed HTTP calls to an AWS service, with retries: exponential backoff with full jitter on
/// throttling, 5xx and connection errors, re-signing each attempt.
public struct AWSHTTPClient: Sendable {
    public struct Response: Sendable {
        public let status: Int
        public let headers: [(String, String)]
        public let body: Data

        public func header(_ name: String) -> String? { headers.first { $0.0.lowercased() == name.lowercased() }?.1 }
    }

    /// Five attempts, full jitter from 100 ms up to 5 s: AWS's SDK defaults.
    public static let defaultRetry = RetryPolicy(maxAttempts: 5, baseDelay: .milliseconds(100), maxDelay: .seconds(5), jitter: .full)

    public let configuration: AWSConfiguration
    public let service: String
    public let retry: RetryPolicy
    let clock: any TimeSource
    let scheme: String
    let host: String
    let port: Int?

    /// `hostPrefix` is the endpoint's first label where it differs from the signing name
    /// (SageMaker's API is `api.sagemaker.<region>.amazonaws.com`, signed as `sagemaker`).
    public init(configuration: AWSConfiguration, service: String, hostPrefix: String? = nil, retry: RetryPolicy = AWSHTTPClient.defaultRetry,
                clock: any TimeSource = SystemTimeSource()) throws {
        self.configuration = configuration; self.service = service; self.retry = retry; self.clock = clock
        let endpoint = configuration.endpoint ?? "https://\(hostPrefix ?? service).\(configuration.region).amazonaws.com"
        guard let url = URL(string: endpoint), let scheme = url.scheme, let host = url.host else {
            throw AWSError(code: "InvalidEndpoint", message: "not an http(s) URL: \(endpoint)")
        }
        self.scheme = scheme; self.host = host; self.port = url.port
    }

    var hostHeader: String { port.map { "\(host):\($0)" } ?? host }
    /// Sends a request, signed with the provider's current credentials (`signed: false` for the few
    /// calls that carry their own proof). `path` is already percent-encoded. Non-2xx answers come
    /// back as responses when `expecting` contains them, otherwise as an `AWSError` with the
    /// service's code and message. Credentials refused as expired are fetched afresh and the request
    /// is sent again.
    public func send(_ method: String, path: String, query: [(String, String)] = [], headers: [(String, String)] = [],
                     body: Data = Data(), expecting: Set<Int> = [], signed: Bool = true) async throws -> Response {
        let credentials = configuration.credentials
        do {
            return try await retry.run(clock: clock, classify: { error in
                guard let error = error as? AWSError else { return .retry(serverWait: nil) }  // connection-level
                if error.isExpiredCredentials { return .retry(serverWait: .zero) }
                return Self.isRetryable(status: error.status ?? 0, code: error.code) ? .retry(serverWait: nil) : .fail
            }) { _ in
                let response = try await sendOnce(method, path: path, query: query, headers: headers, body: body,
                                                  credentials: signed ? try await credentials.current() : nil)
                if (200..<300).contains(response.status) || expecting.contains(response.status) { return response }
                let error = Self.error(from: response, request: "\(method) \(path)")
                if error.isExpiredCredentials { await credentials.invalidate() }
                throw error
            }
        } catch let error as AWSError {
            throw error
        } catch let error as CancellationError {
            throw error
        } catch {
            // Connection-level failures, after the last attempt: reported without request details.
            throw AWSError(code: "NetworkError", message: "\(service) at \(scheme)://\(hostHeader): \(error)")
        }
    }

    func sendOnce(_ method: String, path: String, query: [(String, String)], headers: [(String, String)], body: Data,
                  credentials: AWSCredentials?) async throws -> Response {
        let unsigned = SigV4Signer.Request(method: method, path: path, query: query, headers: headers + [("host", hostHeader)], body: body)
        let signed = credentials.map { SigV4Signer(credentials: $0, region: configuration.region, service: service).sign(unsigned) } ?? unsigned
        let queryString = query.map { "\(SigV4Signer.uriEncode($0.0))=\(SigV4Signer.uriEncode($0.1))" }.joined(separator: "&")
        var request = HTTPClientRequest(url: "\(scheme)://\(hostHeader)\(path)\(queryString.isEmpty ? "" : "?" + queryString)")
        request.method = HTTPMethod(rawValue: method)
        for (name, value) in signed.headers { request.headers.replaceOrAdd(name: name, value: value) }
        if !body.isEmpty || method == "PUT" || method == "POST" {
            request.body = .bytes(ByteBuffer(bytes: body))
            request.headers.replaceOrAdd(name: "content-length", value: String(body.count))
        }
        let response = try await SharedHTTPClient.client.execute(request, timeout: .seconds(120))
        let buffer = try await response.body.collect(upTo: 1 << 30)
        let data = Data(buffer.readableBytesView)
        return Response(status: Int(response.status.code), headers: response.headers.map { ($0.name, $0.value) }, body: data)
    }


    static func isRetryable(status: Int, code: String) -> Bool {
        [429, 500, 502, 503, 504].contains(status)
            || ["SlowDown", "Throttling", "ThrottlingException", "TooManyRequestsException", "RequestTimeout", "InternalError"].contains(code)
    }

    /// The service's error code and message from an XML (S3) or JSON (Secrets Manager) body.
    static func error(from response: Response, request: String) -> AWSError {
        let text = String(decoding: response.body, as: UTF8.self)
        if let object = try? JSONSerialization.jsonObject(with: response.body) as? [String: Any] {
            let type = (object["__type"] as? String ?? response.header("x-amzn-errortype") ?? "Error").split(separator: "#").last.map(String.init) ?? "Error"
            let message = object["message"] as? String ?? object["Message"] as? String ?? ""
            return AWSError(code: type, message: message, status: response.status)
        }
        let code = XMLText.first("Code", in: text) ?? (response.status == 403 ? "AccessDenied" : response.status == 404 ? "NotFound" : "HTTP\(response.status)")
        // HEAD answers carry no body: name the request so the error says what was refused.
        let message = XMLText.first("Message", in: text) ?? (text.isEmpty ? "\(request): no details (the answer has no body)" : "")
        return AWSError(code: code, message: message, status: response.status)
    }
}

/// The few XML shapes S3 answers with, read without a DOM.
enum XMLText {
    /// Text of every `<tag>...</tag>`, unescaped, in document order.
    static func all(_ tag: String, in xml: String) -> [String] {
        var results: [String] = []
        var rest = xml[...]
        while let open = rest.range(of: "<\(tag)>"), let close = rest[open.upperBound...].range(of: "</\(tag)>") {
            results.append(unescape(String(rest[open.upperBound..<close.lowerBound])))
            rest = rest[close.upperBound...]
        }
        return results
    }

    static func first(_ tag: String, in xml: String) -> String? { all(tag, in: xml).first }

    static func unescape(_ s: String) -> String {
        guard s.contains("&") else { return s }
        var out = s.replacingOccurrences(of: "&lt;", with: "<").replacingOccurrences(of: "&gt;", with: ">")
            .replacingOccurrences(of: "&quot;", with: "\"").replacingOccurrences(of: "&apos;", with: "'")
        // Numeric character references (&#13; &#x1F;), then &amp; last.
        while let range = out.range(of: "&#[0-9xX]+;", options: .regularExpression) {
            let body = out[range].dropFirst(2).dropLast()
            let value = body.first == "x" || body.first == "X" ? UInt32(body.dropFirst(), radix: 16) : UInt32(body)
            out.replaceSubrange(range, with: value.flatMap(UnicodeScalar.init).map { String(Character($0)) } ?? "")
        }
        return out.replacingOccurrences(of: "&amp;", with: "&")
    }

    static func escape(_ s: String) -> String {
        s.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;").replacingOccurrences(of: ">", with: "&gt;")
    }
}
