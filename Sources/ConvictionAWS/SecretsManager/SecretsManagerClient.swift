import ConvictionCore
import Foundation

/// AWS Secrets Manager over its JSON protocol (`POST /`, `x-amz-target: secretsmanager.<Action>`).
public struct SecretsManagerClient: Sendable {
    let client: AWSHTTPClient

    public init(configuration: AWSConfiguration) throws {
        client = try AWSHTTPClient(configuration: configuration, service: "secretsmanager")
    }

    func call(_ action: String, _ body: [String: String], expecting: Set<Int> = []) async throws -> (Int, [String: Any]) {
        let response = try await client.send("POST", path: "/", headers: [
            ("content-type", "application/x-amz-json-1.1"), ("x-amz-target", "secretsmanager.\(action)"),
        ], body: try JSONSerialization.data(withJSONObject: body, options: [.sortedKeys]), expecting: expecting)
        let object = (try? JSONSerialization.jsonObject(with: response.body)) as? [String: Any] ?? [:]
        return (response.status, object)
    }

    /// The secret's string value, or nil when no such secret exists.
    public func secretString(_ id: String) async throws -> Secret? {
        do {
            let (_, object) = try await call("GetSecretValue", ["SecretId": id])
            guard let value = object["SecretString"] as? String else {
                throw SecretsError(key: id, source: "secretsmanager:\(id)", message: "has no SecretString (binary secrets are not supported)")
            }
            return Secret(value)
        } catch let error as AWSError where error.code == "ResourceNotFoundException" {
            return nil
        }
    }

    /// Creates the secret, or stores a new version when it exists.
    public func store(_ id: String, value: Secret) async throws {
        do {
            _ = try await call("CreateSecret", ["Name": id, "SecretString": value.reveal()])
        } catch let error as AWSError where error.code == "ResourceExistsException" {
            _ = try await call("PutSecretValue", ["SecretId": id, "SecretString": value.reveal()])
        }
    }
}

/// X credentials from Secrets Manager: one JSON secret holding all five keys
/// (`{"TWITTER_BEARER_TOKEN": "...", ...}`), or one secret per key named `<prefix>/<KEY>`.
public struct SecretsManagerSecretsProvider: SecretsProvider {
    public enum Layout: Sendable {
        case json(secretID: String)
        case perKey(prefix: String)
    }

    let client: SecretsManagerClient
    let layout: Layout

    public init(client: SecretsManagerClient, layout: Layout) { self.client = client; self.layout = layout }

    public var name: String {
        switch layout {
        case .json(let id): return "secretsmanager:\(id)"
        case .perKey(let prefix): return "secretsmanager:\(prefix)/*"
        }
    }

    public func value(for key: XCredentialKey) async throws -> Secret? {
        switch layout {
        case .perKey(let prefix):
            guard let value = try await client.secretString("\(prefix)/\(key.rawValue)") else { return nil }
            guard !value.reveal().isEmpty else { throw SecretsError(key: key.rawValue, source: "secretsmanager:\(prefix)/\(key.rawValue)", message: "is empty") }
            return value
        case .json(let id):
            guard let document = try await client.secretString(id) else { return nil }
            guard let object = (try? JSONSerialization.jsonObject(with: Data(document.reveal().utf8))) as? [String: Any] else {
                throw SecretsError(key: key.rawValue, source: name, message: "the secret is not a JSON object of credential names to values")
            }
            guard let raw = object[key.rawValue] else { return nil }
            guard let value = raw as? String, !value.isEmpty else {
                throw SecretsError(key: key.rawValue, source: name, message: "must be a non-empty string")
            }
            return Secret(value)
        }
    }

    /// Copies values into Secrets Manager; idempotent (unchanged values are not rewritten).
    /// Returns, per key, `created`, `updated` or `unchanged`.
    public func migrate(_ values: [XCredentialKey: Secret]) async throws -> [XCredentialKey: String] {
        var outcome: [XCredentialKey: String] = [:]
        switch layout {
        case .perKey(let prefix):
            for (key, value) in values {
                let id = "\(prefix)/\(key.rawValue)"
                let existing = try await client.secretString(id)
                if existing?.reveal() == value.reveal() { outcome[key] = "unchanged"; continue }
                try await client.store(id, value: value)
                outcome[key] = existing == nil ? "created" : "updated"
            }
        case .json(let id):
            let existing = try await client.secretString(id)
            var object = existing.flatMap { (try? JSONSerialization.jsonObject(with: Data($0.reveal().utf8))) as? [String: String] } ?? [:]
            for (key, value) in values {
                outcome[key] = object[key.rawValue] == value.reveal() ? "unchanged" : (object[key.rawValue] == nil ? "created" : "updated")
                object[key.rawValue] = value.reveal()
            }
            if outcome.values.contains(where: { $0 != "unchanged" }) {
                let data = try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])
                try await client.store(id, value: Secret(String(decoding: data, as: UTF8.self)))
            }
        }
        return outcome
    }
}
