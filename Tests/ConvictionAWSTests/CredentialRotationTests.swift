import AsyncHTTPClient
import ConvictionAWS
import ConvictionCore
import ConvictionHTTP
import ConvictionStore
import ConvictionTesting
import Foundation
import NIOCore
import NIOHTTP1
import Synchronization
import Testing

/// A container-credentials stand-in, in its own process, that hands out 2-minute keys, each a real
/// IAM access key on the signature-checking moto_server, and deletes every key once its 2 minutes
/// are over. A client that kept a key past its expiration is refused by moto, as AWS would refuse it.
/// Its time is the test's injected clock, told by `POST /clock?now=<ms>` (which also deletes the
/// keys whose time is up and answers how many keys were issued).
let rotatingAgentScript = #"""
import http.server, json, sys, boto3, datetime, urllib.parse
endpoint, key, secret, user = sys.argv[1:5]
iam = boto3.client("iam", endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id=key, aws_secret_access_key=secret)
iam.create_user(UserName=user)
iam.put_user_policy(UserName=user, PolicyName="s3", PolicyDocument=json.dumps(
    {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]}))
state = {"now": 0, "keys": [], "issued": 0}
def expire():
    for k in [k for k in state["keys"] if k[1] <= state["now"]]:
        iam.delete_access_key(UserName=user, AccessKeyId=k[0]); state["keys"].remove(k)
class H(http.server.BaseHTTPRequestHandler):
    def reply(self, status, body):
        body = body.encode(); self.send_response(status)
        self.send_header("content-length", str(len(body))); self.end_headers(); self.wfile.write(body)
    def do_POST(self):
        state["now"] = int(urllib.parse.parse_qs(urllib.parse.urlsplit(self.path).query)["now"][0])
        expire()
        self.reply(200, str(state["issued"]))
    def do_GET(self):
        if self.headers.get("authorization") != "agent-token": return self.reply(401, "")
        expire()
        if len(state["keys"]) >= 2:  # IAM allows two keys per user
            oldest = state["keys"].pop(0); iam.delete_access_key(UserName=user, AccessKeyId=oldest[0])
        k = iam.create_access_key(UserName=user)["AccessKey"]
        expires = state["now"] + 120000
        state["keys"].append((k["AccessKeyId"], expires)); state["issued"] += 1
        iso = datetime.datetime.fromtimestamp(expires / 1000, datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
        self.reply(200, json.dumps({"AccessKeyId": k["AccessKeyId"], "SecretAccessKey": k["SecretAccessKey"], "Expiration": iso}))
    def log_message(self, *args): pass
server = http.server.HTTPServer(("127.0.0.1", 0), H)
print(server.server_address[1], flush=True)
server.serve_forever()
"""#

@Suite(.enabled(if: TestSupport.motoAuth != nil, "needs the signature-checking moto_server: run through `make test`"), .timeLimit(.minutes(10)))
struct CredentialRotationTests {
    /// Ten minutes of a worker writing to S3 every 15 seconds, on an injected clock (moved only by the worker's sleeps), while
    /// its 2-minute container credentials are renewed every minute: every write succeeds, and a client that
    /// kept its first keys is refused.
    @Test func aLongRunningWorkerSurvivesTwoMinuteCredentials() async throws {
        let auth = try #require(TestSupport.motoAuth)
        let clock = ManualClock()
        let agent = try PythonServer(script: rotatingAgentScript, arguments: [auth.endpoint, auth.keyID, auth.secret, "rotation-\(UUID().uuidString.prefix(8).lowercased())"])
        defer { withExtendedLifetime(agent) {} }
        /// Tells the agent the time (it deletes the keys whose time is up); answers how many keys it issued.
        func tell() async throws -> Int {
            var request = HTTPClientRequest(url: agent.endpoint + "/clock?now=\(clock.now())")
            request.method = .POST
            let response = try await SharedHTTPClient.client.execute(request, timeout: .seconds(30))
            return Int(String(buffer: try await response.body.collect(upTo: 1024))) ?? -1
        }
        _ = try await tell()
        let configuration = try await AWSConfiguration.resolve(environment: [
            "HOME": "/nonexistent", "AWS_EC2_METADATA_DISABLED": "true", "AWS_ENDPOINT_URL": auth.endpoint,
            "AWS_CONTAINER_CREDENTIALS_FULL_URI": agent.endpoint + "/creds", "AWS_CONTAINER_AUTHORIZATION_TOKEN": "agent-token"], clock: clock)
        let firstKeys = try await configuration.credentials.current()

        // The bucket is made with the admin key; the worker only has the rotating ones.
        let bucket = TestSupport.uniqueBucket("rotate")
        try await S3ObjectStore(bucket: bucket, prefix: "", configuration: motoConfiguration(auth.endpoint, keyID: auth.keyID, secret: auth.secret))
            .createBucketIfNeeded()
        let store = try S3ObjectStore(bucket: bucket, prefix: "worker", configuration: configuration)
        let started = clock.now()
        var writes = 0
        while clock.now() - started < 600_000 {
            _ = try await tell()
            try await store.put("beat-\(writes).txt", data: Data("\(clock.now())".utf8))
            writes += 1
            try await clock.sleep(for: .seconds(15))
        }
        #expect(try await store.list(prefix: "").count == writes)
        #expect(writes == 40)
        #expect(try await tell() >= 10, "ten minutes of 2-minute keys, each refreshed after half its life")

        let stale = try S3ObjectStore(bucket: bucket, prefix: "worker", configuration: AWSConfiguration(region: "us-east-1", endpoint: auth.endpoint, credentials: firstKeys))
        await #expect { _ = try await stale.get("beat-0.txt") } throws: { ($0 as? AWSError)?.errorCode == .credentials }
    }
}
