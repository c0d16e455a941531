import ConvictionCore
import ConvictionTesting
import Foundation
import Testing

/// The IAM policies of docs/aws.md against moto_server with IAM enforcement on: each role's policy
/// passes `aws check`, lets its stages run, and loses exactly the actions of any statement removed.
@Suite(.enabled(if: TestSupport.motoAuth != nil, "needs the signature-checking moto_server: run through `make test`"), .timeLimit(.minutes(10)))
struct AWSCheckTests {
    let auth = TestSupport.motoAuth!
    let id = String(UUID().uuidString.prefix(8)).lowercased()
    var bucket: String { "iam-\(id)" }
    var namespace: String { "ConvictionIAM/\(id)" }
    var logGroup: String { "/conviction-iam/\(id)" }
    var secret: String { "conviction/iam-\(id)" }

    /// Each role's policy as documented, placeholders filled in.
    func documentedPolicies() throws -> [String: String] {
        let docs = try String(contentsOf: TestSupport.packageRoot.appendingPathComponent("docs/aws.md"), encoding: .utf8)
        var policies: [String: String] = [:]
        for part in docs.components(separatedBy: "### Role: ").dropFirst() {
            let role = String(part.prefix { $0 != "\n" })
            guard let json = part.components(separatedBy: "```json\n").dropFirst().first?.components(separatedBy: "\n```").first else { continue }
            policies[role] = json.replacingOccurrences(of: "BUCKET", with: bucket).replacingOccurrences(of: "PREFIX", with: "data")
                .replacingOccurrences(of: "REGION", with: "us-east-1").replacingOccurrences(of: "ACCOUNT", with: "123456789012")
                .replacingOccurrences(of: "SECRET", with: secret).replacingOccurrences(of: "NAMESPACE", with: namespace)
                .replacingOccurrences(of: "LOG_GROUP", with: logGroup)
        }
        return policies
    }

    /// IAM administration with the admin key (boto3): `user <name> <policy>` creates a user with that
    /// policy (checked by moto's validator as documented, then enforced in moto's form) and prints its
    /// key; `policy <name> <policy>` replaces the user's policy.
    static let admin = #"""
    import sys, json, boto3
    endpoint, key, secret, command, user, text = sys.argv[1:7]
    iam = boto3.client("iam", endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id=key, aws_secret_access_key=secret)
    documented = json.loads(text)
    # moto evaluates actions, and resources only for S3: drop conditions, and other services' resources become "*".
    # It also names two actions its own way: CloudWatch by the signing name (monitoring:PutMetricData), and
    # S3 reads by the operation (s3:ListObjectsV2, s3:HeadBucket, s3:HeadObject where AWS checks s3:ListBucket and
    # s3:GetObject); add those aliases.
    aliases = {"cloudwatch:PutMetricData": ["monitoring:PutMetricData"], "s3:ListBucket": ["s3:ListObjectsV2", "s3:ListObjects", "s3:HeadBucket"], "s3:GetObject": ["s3:HeadObject"]}
    for s in documented["Statement"]:
        s.pop("Condition", None)
        actions = s["Action"] if isinstance(s["Action"], list) else [s["Action"]]
        s["Action"] = actions + [a for action in actions for a in aliases.get(action, [])]
        resources = s["Resource"] if isinstance(s["Resource"], list) else [s["Resource"]]
        if not all(r.startswith("arn:aws:s3:::") for r in resources): s["Resource"] = "*"
    if command == "user":
        iam.create_user(UserName=user)
        iam.put_user_policy(UserName=user, PolicyName="documented-syntax", PolicyDocument=text)  # moto's validator
        iam.delete_user_policy(UserName=user, PolicyName="documented-syntax")
        iam.put_user_policy(UserName=user, PolicyName="role", PolicyDocument=json.dumps(documented))
        k = iam.create_access_key(UserName=user)["AccessKey"]
        print(k["AccessKeyId"], k["SecretAccessKey"])
    else:
        iam.put_user_policy(UserName=user, PolicyName="role", PolicyDocument=json.dumps(documented))
    """#

    func admin(_ command: String, user: String, policy: String) async throws -> (String, String) {
        let result = try await TestSupport.runOffPool(TestSupport.python ?? "/usr/bin/python3", ["-c", Self.admin, auth.endpoint, auth.keyID, auth.secret, command, user, policy],
                                         environment: ["PATH": "/usr/bin:/bin"], timeout: 120)
        try #require(result.status == 0, "\(result.stderr)")
        let words = result.stdout.split(separator: " ").map { $0.trimmingCharacters(in: .whitespacesAndNewlines) }
        return words.count == 2 ? (words[0], words[1]) : ("", "")
    }

    func environment(key: (String, String)) -> [String: String] {
        ["AWS_ACCESS_KEY_ID": key.0, "AWS_SECRET_ACCESS_KEY": key.1, "HOME": TestSupport.temporaryDirectory("iam").path,
         "AWS_EC2_METADATA_DISABLED": "true", "CONVICTION_AWS_ENDPOINT": auth.endpoint,
         "CONVICTION_MONITORING_CLOUDWATCH": "true", "CONVICTION_MONITORING_NAMESPACE": namespace, "CONVICTION_MONITORING_LOG_GROUP": logGroup,
         "CONVICTION_DATA_CATALOG": TestSupport.temporaryDirectory("iam-cache").appendingPathComponent("c.sqlite").path,
         "CONVICTION_DATA_SOURCE": "simulator", "CONVICTION_SIMULATION_SESSIONS": "6", "CONVICTION_UNIVERSE_SYMBOLS": "AAPL,TSLA",
         "CONVICTION_TRAINING_FOLDS": "2"]
    }

    @Test func eachRolesPolicyPassesTheCheckAndLosesExactlyTheActionsOfARemovedStatement() async throws {
        let policies = try documentedPolicies()
        #expect(Set(policies.keys) == ["stream", "score", "gpu", "train"])
        let store = "s3://\(bucket)/data"
        // The store and the X secret, made with the admin key.
        var adminEnv = environment(key: (auth.keyID, auth.secret))
        adminEnv["CONVICTION_AWS_CREATE_BUCKET"] = "true"
        for command in [["simulate"], ["ingest"]] {
            let r = try await TestSupport.convictionOffPool(command + ["--data-dir", store], environment: adminEnv)
            #expect(r.status == 0, "\(command): \(r.stderr)")
        }
        for (role, policy) in policies.sorted(by: { $0.key < $1.key }) {
            let user = "\(role)-\(id)"
            let key = try await admin("user", user: user, policy: policy)
            var env = environment(key: key)
            if role == "stream" { env["CONVICTION_SECRETS_SOURCE"] = "secretsmanager"; env["CONVICTION_SECRETS_SECRET_ID"] = secret }
            let check = try await TestSupport.convictionOffPool(["aws", "check", "--role", role, "--data-dir", store], environment: env)
            #expect(check.status == 0 && check.stdout.contains("all \(role == "stream" ? 9 : 8) permission(s) present"), "\(role): \(check.stdout)\(check.stderr)")

            // The role's stages run under its policy alone.
            let stages: [[String]] = role == "score" || role == "gpu" ? [["score"]] : role == "train" ? [["features"], ["train"]] : []
            for stage in stages {
                let run = try await TestSupport.convictionOffPool(stage + ["--data-dir", store], environment: env)
                #expect(run.status == 0 && !run.stderr.contains("not sent"), "\(role) \(stage): \(run.stderr.suffix(1500))")
            }

            // Without any one statement, the check names exactly that statement's actions.
            let document = try #require(try JSONSerialization.jsonObject(with: Data(policy.utf8)) as? [String: Any])
            let statements = try #require(document["Statement"] as? [[String: Any]])
            for (i, statement) in statements.enumerated() {
                var reduced = document
                reduced["Statement"] = statements.enumerated().filter { $0.offset != i }.map(\.element)
                _ = try await admin("policy", user: user, policy: String(decoding: try JSONSerialization.data(withJSONObject: reduced), as: UTF8.self))
                let actions = (statement["Action"] as? [String]) ?? [statement["Action"] as? String ?? ""]
                // CreateLogGroup is optional: the shipper and the check go on without it.
                let expected = Set(actions.filter { $0 != "logs:CreateLogGroup" })
                let without = try await TestSupport.convictionOffPool(["aws", "check", "--role", role, "--data-dir", store], environment: env)
                let named = Set(without.stdout.split(separator: "\n").filter { $0.hasPrefix("MISSING") }.compactMap { $0.split(separator: " ", omittingEmptySubsequences: true).dropFirst().first.map(String.init) })
                #expect(without.status == 77, "\(role) without \(statement["Sid"] ?? i): \(without.stdout)")
                #expect(named == expected, "\(role) without \(statement["Sid"] ?? i) names \(named.sorted()), expected \(expected.sorted())")
            }
            _ = try await admin("policy", user: user, policy: policy)
        }
    }
}
