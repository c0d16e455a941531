import ConvictionCore
import Crypto
import Foundation

/// AWS Signature Version 4 (`AWS4-HMAC-SHA256`), for JSON-protocol services such as Secrets
/// Manager and for S3. Checked against AWS's published test-suite vectors and botocore's signer.
public struct SigV4Signer: Sendable {
    /// What gets signed: everything is already in its final form except the auth headers.
    public struct Request: Sendable {
        public var method: String
        /// The path as sent, already percent-encoded (S3: each key segment encoded once).
        public var path: String
        /// Query items, unencoded; the signer encodes and sorts them.
        public var query: [(String, String)]
        public var headers: [(String, String)]
        public var body: Data

        public init(method: String, path: String, query: [(String, String)] = [], headers: [(String, String)] = [], body: Data = Data()) {
            self.method = method; self.path = path; self.query = query; self.headers = headers; self.body = body
        }
    }

    public let credentials: AWSCredentials
    public let region: String
    public let service: String

    public init(credentials: AWSCredentials, region: String, service: String) {
        self.credentials = credentials; self.region = region; self.service = service
    }

    /// S3 signs the path as sent; every other service normalises and encodes it a second time.
    var encodesPathTwice: Bool { service != "s3" }

    /// Returns the request with `x-amz-date`, the session token, `x-amz-content-sha256` (S3) and
    /// `Authorization` added. `host` must already be among the headers.
    public func sign(_ request: Request, date: Date = Date(), unsignedPayload: Bool = false) -> Request {
        var request = request
        let (amzDate, day) = Self.timestamps(date)
        let payloadHash = unsignedPayload ? "UNSIGNED-PAYLOAD" : Self.hex(SHA256.hash(data: request.body))
        request.headers.removeAll { ["authorization", "x-amz-date"].contains($0.0.lowercased()) }
        request.headers.append(("x-amz-date", amzDate))
        if let token = credentials.sessionToken { request.headers.append(("x-amz-security-token", token.reveal())) }
        if service == "s3", !request.headers.contains(where: { $0.0.lowercased() == "x-amz-content-sha256" }) {
            request.headers.append(("x-amz-content-sha256", payloadHash))
        }
        let (canonical, signedHeaders) = canonicalRequest(request, payloadHash: payloadHash)
        let scope = "\(day)/\(region)/\(service)/aws4_request"
        let stringToSign = "AWS4-HMAC-SHA256\n\(amzDate)\n\(scope)\n\(Self.hex(SHA256.hash(data: Data(canonical.utf8))))"
        let signature = Self.hex(HMAC<SHA256>.authenticationCode(for: Data(stringToSign.utf8), using: signingKey(day: day)))
        request.headers.append(("Authorization",
                                "AWS4-HMAC-SHA256 Credential=\(credentials.accessKeyID)/\(scope), SignedHeaders=\(signedHeaders), Signature=\(signature)"))
        return request
    }

    /// The canonical request and the signed-header list (exposed for tests).
    public func canonicalRequest(_ request: Request, payloadHash: String) -> (String, String) {
        var grouped: [String: [String]] = [:]
        for (name, value) in request.headers {
            grouped[name.lowercased(), default: []].append(Self.trimHeaderValue(value))
        }
        let names = grouped.keys.sorted()
        let canonicalHeaders = names.map { "\($0):\(grouped[$0]!.joined(separator: ","))\n" }.joined()
        let signedHeaders = names.joined(separator: ";")
        let encoded: [(String, String)] = request.query.map { (Self.uriEncode($0.0), Self.uriEncode($0.1)) }
        let sorted = encoded.sorted { (a: (String, String), b: (String, String)) -> Bool in a.0 == b.0 ? a.1 < b.1 : a.0 < b.0 }
        let query = sorted.map { "\($0.0)=\($0.1)" }.joined(separator: "&")
        var path = request.path.isEmpty ? "/" : request.path
        if encodesPathTwice { path = Self.normalize(path).split(separator: "/", omittingEmptySubsequences: false).map { Self.uriEncode(String($0)) }.joined(separator: "/") }
        let canonical = [request.method, path, query, canonicalHeaders, signedHeaders, payloadHash].joined(separator: "\n")
        return (canonical, signedHeaders)
    }

    func signingKey(day: String) -> SymmetricKey {
        func hmac(_ key: SymmetricKey, _ text: String) -> SymmetricKey {
            SymmetricKey(data: Data(HMAC<SHA256>.authenticationCode(for: Data(text.utf8), using: key)))
        }
        let secret = SymmetricKey(data: Data(("AWS4" + credentials.secretAccessKey.reveal()).utf8))
        return hmac(hmac(hmac(hmac(secret, day), region), service), "aws4_request")
    }

    static func timestamps(_ date: Date) -> (String, String) {
        let ms = EpochMillis(date.timeIntervalSince1970 * 1000)
        let iso = Timestamps.iso8601(ms)  // 2015-08-30T12:36:00.000Z
        let compact = iso.prefix(19).replacingOccurrences(of: "-", with: "").replacingOccurrences(of: ":", with: "") + "Z"
        return (compact, String(compact.prefix(8)))
    }

    /// RFC 3986 percent-encoding of everything but unreserved characters, as SigV4 requires.
    public static func uriEncode(_ text: String, keepSlash: Bool = false) -> String {
        var out = ""
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
                 UInt8(ascii: "-"), UInt8(ascii: "_"), UInt8(ascii: "."), UInt8(ascii: "~"):
                out.append(Character(UnicodeScalar(byte)))
            case UInt8(ascii: "/") where keepSlash:
                out.append("/")
            default:
                out += String(format: "%%%02X", byte)
            }
        }
        return out
    }

    /// Removes `.` and `..` segments and repeated slashes (non-S3 services sign the normalised path).
    static func normalize(_ path: String) -> String {
        var parts: [Substring] = []
        for segment in path.split(separator: "/", omittingEmptySubsequences: true) {
            if segment == "." { continue }
            if segment == ".." { _ = parts.popLast(); continue }
            parts.append(segment)
        }
        let joined = "/" + parts.joined(separator: "/")
        return path.hasSuffix("/") && joined != "/" ? joined + "/" : joined
    }

    static func trimHeaderValue(_ value: String) -> String {
        value.split(whereSeparator: { $0 == " " || $0 == "\t" }).joined(separator: " ")
    }

    static func hex<D: Sequence>(_ digest: D) -> String where D.Element == UInt8 {
        digest.map { String(format: "%02x", $0) }.joined()
    }
}
