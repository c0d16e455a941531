import ConvictionCore
import Foundation

/// The two STS calls the credential chain needs, over STS's query protocol (`POST /`, form body,
/// XML answer): `AssumeRole`, signed with the source credentials, and `AssumeRoleWithWebIdentity`,
/// which is unsigned (the web identity token is the proof).
struct STSClient: Sendable {
    let client: AWSHTTPClient

    /// `endpoint`: an override (moto_server, a VPC endpoint); nil = the regional endpoint.
    init(region: String, endpoint: String?, credentials: any AWSCredentialProvider) throws {
        client = try AWSHTTPClient(configuration: AWSConfiguration(region: region, endpoint: endpoint, credentials: credentials), service: "sts")
    }

    struct AssumeRole: Sendable {
        var roleARN: String
        var sessionName: String
        var durationSeconds: Int?
        var externalID: String?
    }

    func assumeRole(_ request: AssumeRole, source: String) async throws -> AWSCredentials {
        var form = [("Action", "AssumeRole"), ("Version", "2011-06-15"), ("RoleArn", request.roleARN), ("RoleSessionName", request.sessionName)]
        if let duration = request.durationSeconds { form.append(("DurationSeconds", String(duration))) }
        if let external = request.externalID { form.append(("ExternalId", external)) }
        return try await call(form, signed: true, source: source)
    }

    func assumeRoleWithWebIdentity(roleARN: String, sessionName: String, token: String, source: String) async throws -> AWSCredentials {
        try await call([("Action", "AssumeRoleWithWebIdentity"), ("Version", "2011-06-15"), ("RoleArn", roleARN),
                        ("RoleSessionName", sessionName), ("WebIdentityToken", token)], signed: false, source: source)
    }

    func call(_ form: [(String, String)], signed: Bool, source: String) async throws -> AWSCredentials {
        let body = form.map { "\(SigV4Signer.uriEncode($0.0))=\(SigV4Signer.uriEncode($0.1))" }.joined(separator: "&")
        let response = try await client.send("POST", path: "/", headers: [("content-type", "application/x-www-form-urlencoded; charset=utf-8")],
                                             body: Data(body.utf8), signed: signed)
        let xml = String(decoding: response.body, as: UTF8.self)
        guard let key = XMLText.first("AccessKeyId", in: xml), let secret = XMLText.first("SecretAccessKey", in: xml) else {
            throw AWSError(code: "InvalidCredentialsDocument", message: "\(source): STS answered without AccessKeyId or SecretAccessKey")
        }
        let expiration = XMLText.first("Expiration", in: xml).flatMap(CredentialTimestamp.parse)
        return AWSCredentials(accessKeyID: key, secretAccessKey: Secret(secret), sessionToken: XMLText.first("SessionToken", in: xml).map(Secret.init),
                              expiration: expiration, source: source)
    }
}

/// Credentials for requests that are not signed (`AssumeRoleWithWebIdentity`): asking for them is a bug.
struct NoCredentialProvider: AWSCredentialProvider {
    func current() async throws -> AWSCredentials {
        throw AWSError(code: "MissingCredentials", message: "this request is sent unsigned and has no credentials")
    }
}
