import ConvictionCore
import Foundation

/// The default credential chain, in the order the AWS SDKs document:
/// 1. environment (`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`);
/// 2. the profile in the shared files: static keys, `role_arn` with `source_profile` (or
///    `credential_source`, or `web_identity_token_file`) through STS, or `credential_process`;
/// 3. web identity (`AWS_WEB_IDENTITY_TOKEN_FILE` and `AWS_ROLE_ARN`, through
///    `AssumeRoleWithWebIdentity`);
/// 4. container credentials (`AWS_CONTAINER_CREDENTIALS_RELATIVE_URI` or `..._FULL_URI`);
/// 5. the instance role through IMDSv2, unless `AWS_EC2_METADATA_DISABLED=true`.
/// The first source that is configured is used; a source that is configured but broken is an
/// error naming it, not a silent fall-through to the next.
struct CredentialChain: Sendable {
    let environment: [String: String]
    let files: SharedConfigFiles
    let region: String
    let stsEndpoint: String?
    let imdsEndpoint: String?
    let clock: any TimeSource

    func resolve() async throws -> any AWSCredentialProvider {
        if let key = environment["AWS_ACCESS_KEY_ID"], !key.isEmpty {
            guard let secret = environment["AWS_SECRET_ACCESS_KEY"], !secret.isEmpty else {
                throw AWSError(code: "IncompleteCredentials", message: "AWS_ACCESS_KEY_ID is set but AWS_SECRET_ACCESS_KEY is not (source: environment)")
            }
            let token = environment["AWS_SESSION_TOKEN"].flatMap { $0.isEmpty ? nil : Secret($0) }
            return StaticCredentialProvider(AWSCredentials(accessKeyID: key, secretAccessKey: Secret(secret), sessionToken: token, source: "environment"))
        }
        if files.profileNamed, try !files.hasProfile(files.profileName) {
            throw AWSError(code: "MissingCredentials", message: "profile \(files.profileName) is in neither \(files.credentialsPath) nor \(files.configPath)")
        }
        if let provider = try profileProvider(files.profileName, visited: []) { return try await primed(provider) }
        if let tokenFile = environment["AWS_WEB_IDENTITY_TOKEN_FILE"], !tokenFile.isEmpty, let role = environment["AWS_ROLE_ARN"], !role.isEmpty {
            return try await primed(webIdentity(role: role, tokenFile: tokenFile, sessionName: environment["AWS_ROLE_SESSION_NAME"]))
        }
        if let url = try ContainerCredentials.url(environment: environment) {
            let environment = environment
            return try await primed(RefreshingCredentialProvider("container credentials", clock: clock) {
                try await ContainerCredentials.fetch(url: url, environment: environment)
            })
        }
        var tried = "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, profile \(files.profileName) in \(files.credentialsPath) and \(files.configPath), "
            + "AWS_WEB_IDENTITY_TOKEN_FILE, AWS_CONTAINER_CREDENTIALS_RELATIVE_URI"
        if let imds = InstanceMetadataCredentials.endpoint(environment: environment, override: imdsEndpoint) {
            let provider = RefreshingCredentialProvider("instance metadata", clock: clock) { try await InstanceMetadataCredentials.fetch(endpoint: imds) }
            do {
                return try await primed(provider)
            } catch {
                tried += ", the instance role at \(imds) (\(Self.reason(error)))"
            }
        } else {
            tried += " (the instance role is not asked: AWS_EC2_METADATA_DISABLED=true)"
        }
        throw AWSError(code: "MissingCredentials", message: "no AWS credentials; looked for \(tried)")
    }

    /// Fetches once, so a misconfigured source fails at start and names itself.
    func primed(_ provider: any AWSCredentialProvider) async throws -> any AWSCredentialProvider {
        _ = try await provider.current()
        return provider
    }

    /// The credentials profile `name` describes, or nil when it describes none.
    func profileProvider(_ name: String, visited: [String]) throws -> (any AWSCredentialProvider)? {
        guard !visited.contains(name) else {
            throw AWSError(code: "InvalidConfiguration", message: "source_profile loop: \((visited + [name]).joined(separator: " -> "))")
        }
        let settings = try files.profile(name)
        let place = files.describe(name)
        if let roleARN = settings["role_arn"] {
            let sessionName = settings["role_session_name"] ?? "conviction-\(clock.now() / 1000)"
            if let tokenFile = settings["web_identity_token_file"] {
                return webIdentity(role: roleARN, tokenFile: tokenFile, sessionName: sessionName)
            }
            let source: any AWSCredentialProvider
            if let sourceProfile = settings["source_profile"] {
                // A profile may name itself as source when it also holds the keys to assume with.
                if sourceProfile == name, let keys = try staticKeys(settings, place: place) {
                    source = StaticCredentialProvider(keys)
                } else {
                    guard try files.hasProfile(sourceProfile), let provider = try profileProvider(sourceProfile, visited: visited + [name]) else {
                        throw AWSError(code: "InvalidConfiguration", message: "\(place): source_profile \(sourceProfile) has no credentials")
                    }
                    source = provider
                }
            } else if let credentialSource = settings["credential_source"] {
                source = try namedSource(credentialSource, place: place)
            } else {
                throw AWSError(code: "InvalidConfiguration", message: "\(place): role_arn needs source_profile, credential_source or web_identity_token_file")
            }
            let duration = try settings["duration_seconds"].map { text -> Int in
                guard let value = Int(text), (900...43200).contains(value) else {
                    throw AWSError(code: "InvalidConfiguration", message: "\(place): duration_seconds \(text) is not between 900 and 43200")
                }
                return value
            }
            let sts = try STSClient(region: region, endpoint: stsEndpoint, credentials: source)
            let request = STSClient.AssumeRole(roleARN: roleARN, sessionName: sessionName, durationSeconds: duration, externalID: settings["external_id"])
            let describe = "assumed role \(roleARN) (profile \(name))"
            return RefreshingCredentialProvider(describe, clock: clock) { try await sts.assumeRole(request, source: describe) }
        }
        if let keys = try staticKeys(settings, place: place) { return StaticCredentialProvider(keys) }
        if let command = settings["credential_process"] {
            let describe = "credential_process (profile \(name))"
            return RefreshingCredentialProvider(describe, clock: clock) { try await ProcessCredentials.run(command, source: describe) }
        }
        return nil
    }

    func staticKeys(_ settings: [String: String], place: String) throws -> AWSCredentials? {
        guard let key = settings["aws_access_key_id"] else { return nil }
        guard let secret = settings["aws_secret_access_key"] else {
            throw AWSError(code: "IncompleteCredentials", message: "\(place): aws_access_key_id without aws_secret_access_key")
        }
        return AWSCredentials(accessKeyID: key, secretAccessKey: Secret(secret), sessionToken: settings["aws_session_token"].map(Secret.init),
                              source: "shared files (\(place.components(separatedBy: " in ").first ?? place))")
    }

    /// `credential_source = Environment | Ec2InstanceMetadata | EcsContainer`.
    func namedSource(_ name: String, place: String) throws -> any AWSCredentialProvider {
        switch name {
        case "Environment":
            guard let key = environment["AWS_ACCESS_KEY_ID"], let secret = environment["AWS_SECRET_ACCESS_KEY"] else {
                throw AWSError(code: "IncompleteCredentials", message: "\(place): credential_source Environment, but AWS_ACCESS_KEY_ID or AWS_SECRET_ACCESS_KEY is not set")
            }
            return StaticCredentialProvider(AWSCredentials(accessKeyID: key, secretAccessKey: Secret(secret),
                                                           sessionToken: environment["AWS_SESSION_TOKEN"].map(Secret.init), source: "environment"))
        case "Ec2InstanceMetadata":
            let imds = InstanceMetadataCredentials.endpoint(environment: environment, override: imdsEndpoint) ?? InstanceMetadataCredentials.defaultEndpoint
            return RefreshingCredentialProvider("instance metadata", clock: clock) { try await InstanceMetadataCredentials.fetch(endpoint: imds) }
        case "EcsContainer":
            guard let url = try ContainerCredentials.url(environment: environment) else {
                throw AWSError(code: "InvalidConfiguration", message: "\(place): credential_source EcsContainer, but no AWS_CONTAINER_CREDENTIALS_*_URI is set")
            }
            let environment = environment
            return RefreshingCredentialProvider("container credentials", clock: clock) { try await ContainerCredentials.fetch(url: url, environment: environment) }
        default:
            throw AWSError(code: "InvalidConfiguration", message: "\(place): credential_source \(name) is not Environment, Ec2InstanceMetadata or EcsContainer")
        }
    }

    /// `AssumeRoleWithWebIdentity` with the token file read afresh each time (EKS rotates it).
    func webIdentity(role: String, tokenFile: String, sessionName: String?) -> any AWSCredentialProvider {
        let describe = "web identity (role \(role))"
        let sessionName = sessionName ?? "conviction-\(clock.now() / 1000)"
        let region = region, endpoint = stsEndpoint
        return RefreshingCredentialProvider(describe, clock: clock) {
            guard let data = FileManager.default.contents(atPath: tokenFile) else {
                throw AWSError(code: "InvalidConfiguration", message: "web identity token file \(tokenFile) cannot be read")
            }
            let token = String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
            let sts = try STSClient(region: region, endpoint: endpoint, credentials: NoCredentialProvider())
            return try await sts.assumeRoleWithWebIdentity(roleARN: role, sessionName: sessionName, token: token, source: describe)
        }
    }

    static func reason(_ error: any Error) -> String {
        (error as? AWSError).map { "\($0.code): \($0.message)" } ?? "unreachable"
    }
}

/// `credential_process`: a command that prints a JSON credentials document (`Version` 1) on stdout.
/// Its stdout is never logged; its stderr passes through (it may ask the user something).
enum ProcessCredentials {
    static func run(_ command: String, source: String, timeout: Duration = .seconds(60)) async throws -> AWSCredentials {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/sh")
        process.arguments = ["-c", command]
        let stdout = Pipe()
        process.standardOutput = stdout
        do { try process.run() } catch {
            throw AWSError(code: "CredentialProcessError", message: "\(source): cannot start /bin/sh: \(error.localizedDescription)")
        }
        let watchdog = Task {
            try await Task.sleep(for: timeout)
            if process.isRunning { process.terminate() }
        }
        let output = await Task.detached { stdout.fileHandleForReading.readDataToEndOfFile() }.value
        process.waitUntilExit()
        watchdog.cancel()
        guard process.terminationReason == .exit, process.terminationStatus == 0 else {
            throw AWSError(code: "CredentialProcessError", message: "\(source): the command " + (process.terminationReason == .exit
                ? "exited with status \(process.terminationStatus)" : "was stopped (more than \(timeout) or a signal)"))
        }
        if let object = try? JSONSerialization.jsonObject(with: output) as? [String: Any], let version = object["Version"] as? Int, version != 1 {
            throw AWSError(code: "CredentialProcessError", message: "\(source): Version \(version) is not supported (only 1)")
        }
        return try CredentialTimestamp.credentials(fromJSON: output, source: source)
    }
}
