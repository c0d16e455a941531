import ConvictionAWS
import ConvictionCore
import ConvictionTesting
import Foundation
import Testing

@Suite(.timeLimit(.minutes(10))) struct SigV4SignerTests {
    // AWS's SigV4 test suite credentials and time.
    let credentials = AWSCredentials(accessKeyID: "AKIDEXAMPLE", secretAccessKey: Secret("wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"), source: "test")
    let date = Date(timeIntervalSince1970: 1_440_938_160)  // 20150830T123600Z

    func authorization(_ r: SigV4Signer.Request) -> String? { r.headers.first { $0.0 == "Authorization" }?.1 }

    @Test func getVanillaFromTheAWSTestSuite() {
        let signer = SigV4Signer(credentials: credentials, region: "us-east-1", service: "service")
        let signed = signer.sign(.init(method: "GET", path: "/", headers: [("Host", "example.amazonaws.com")]), date: date)
        #expect(authorization(signed) == "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date, Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31")
    }

    @Test func getVanillaQueryOrderKeyFromTheAWSTestSuite() {
        let signer = SigV4Signer(credentials: credentials, region: "us-east-1", service: "service")
        let signed = signer.sign(.init(method: "GET", path: "/", query: [("Param2", "value2"), ("Param1", "value1")],
                                       headers: [("Host", "example.amazonaws.com")]), date: date)
        #expect(authorization(signed)?.hasSuffix("Signature=b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500") == true)
    }

    @Test func secretsNeverAppearInTheSignedRequest() {
        let signer = SigV4Signer(credentials: credentials, region: "us-east-1", service: "s3")
        let signed = signer.sign(.init(method: "PUT", path: "/b/k", headers: [("host", "h")], body: Data("x".utf8)), date: date)
        #expect(!signed.headers.contains { $0.1.contains("wJalrXUtnFEMI") })
        #expect(!"\(credentials)".contains("wJalrXUtnFEMI"))
    }

    /// Against botocore's signer (an independent implementation) over varied requests.
    @Test(.enabled(if: TestSupport.pythonHas("botocore"), "needs .venv with botocore (make setup)"))
    func matchesBotocore() throws {
        struct Case: Codable { let service, method, path: String; let query: [[String]]; let headers: [[String]]; let body: String; let token: String?; var host = "127.0.0.1:5000" }
        let cases = [
            Case(service: "s3", method: "GET", path: "/bucket/raw/posts/dt=2026-01-05/symbol=AAPL/part-1.jsonl.gz", query: [], headers: [], body: "", token: nil),
            Case(service: "s3", method: "GET", path: "/bucket", query: [["list-type", "2"], ["prefix", "raw/posts/dt=2026 01/ä+&="], ["continuation-token", "a/b=="]], headers: [], body: "", token: nil),
            Case(service: "s3", method: "PUT", path: "/bucket/" + SigV4Signer.uriEncode("key with spaces & ünïcode"), query: [["partNumber", "2"], ["uploadId", "x~y"]],
                 headers: [["Content-MD5", "1B2M2Y8AsgTpgAmY7PhCfg=="], ["X-Amz-Meta-Note", "  two   spaces "]], body: "hello world", token: "session/token=="),
            Case(service: "s3", method: "POST", path: "/bucket/k", query: [["uploads", ""]], headers: [], body: "", token: nil),
            Case(service: "s3", method: "GET", path: "/raw/posts/" + SigV4Signer.uriEncode("dt=2026-01-05"), query: [], headers: [], body: "", token: nil,
                 host: "my-bucket.s3.eu-west-1.amazonaws.com"),
            Case(service: "secretsmanager", method: "POST", path: "/", query: [],
                 headers: [["Content-Type", "application/x-amz-json-1.1"], ["X-Amz-Target", "secretsmanager.GetSecretValue"]],
                 body: #"{"SecretId":"conviction/x-api"}"#, token: nil),
        ]
        let script = #"""
        import sys, json, hashlib
        from botocore.auth import SigV4Auth, S3SigV4Auth
        from botocore.awsrequest import AWSRequest
        from botocore.credentials import Credentials
        from urllib.parse import quote
        out = []
        for c in json.load(sys.stdin):
            creds = Credentials("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", c.get("token"))
            auth = (S3SigV4Auth if c["service"] == "s3" else SigV4Auth)(creds, c["service"], "eu-west-1")
            query = "&".join(quote(k, safe="-_.~") + "=" + quote(v, safe="-_.~") for k, v in c["query"])
            req = AWSRequest(method=c["method"], url="http://" + c["host"] + c["path"] + ("?" + query if query else ""), data=c["body"].encode())
            for k, v in c["headers"]: req.headers[k] = v
            req.context["timestamp"] = "20150830T123600Z"
            req.headers["X-Amz-Date"] = "20150830T123600Z"
            if c.get("token"): req.headers["X-Amz-Security-Token"] = c.get("token")
            if c["service"] == "s3": req.headers["X-Amz-Content-SHA256"] = hashlib.sha256(c["body"].encode()).hexdigest()
            canonical = auth.canonical_request(req)
            sts = auth.string_to_sign(req, canonical)
            out.append(auth.signature(sts, req))
        print(json.dumps(out))
        """#
        let result = try TestSupport.run(TestSupport.python!, ["-c", script], input: try JSONEncoder().encode(cases))
        try #require(result.status == 0, "\(result.stderr)")
        let expected = try JSONDecoder().decode([String].self, from: Data(result.stdout.utf8))
        for (c, signature) in zip(cases, expected) {
            let signer = SigV4Signer(credentials: AWSCredentials(accessKeyID: "AKIDEXAMPLE", secretAccessKey: Secret("wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"),
                                                                 sessionToken: c.token.map(Secret.init), source: "test"),
                                     region: "eu-west-1", service: c.service)
            let signed = signer.sign(.init(method: c.method, path: c.path, query: c.query.map { ($0[0], $0[1]) },
                                           headers: c.headers.map { ($0[0], $0[1]) } + [("host", c.host)], body: Data(c.body.utf8)), date: date)
            #expect(authorization(signed)?.hasSuffix("Signature=" + signature) == true, "\(c.method) \(c.path)")
        }
        #expect(expected.count == cases.count, "\(result.stderr)")
    }
}
