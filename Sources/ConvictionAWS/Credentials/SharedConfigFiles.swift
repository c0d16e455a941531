import Foundation

/// `~/.aws/credentials` and `~/.aws/config` (or `AWS_SHARED_CREDENTIALS_FILE` and `AWS_CONFIG_FILE`):
/// INI files whose sections are `[name]` in the credentials file and `[profile name]` (or `[default]`)
/// in the config file. A profile's settings are both sections merged, the credentials file winning.
struct SharedConfigFiles: Sendable {
    let credentialsPath: String
    let configPath: String
    /// The argument, else `AWS_PROFILE`, else `default`.
    let profileName: String
    /// True when the profile was asked for by name: then it must exist.
    let profileNamed: Bool

    init(environment: [String: String], profile: String?) {
        let home = environment["HOME"] ?? NSHomeDirectory()
        credentialsPath = environment["AWS_SHARED_CREDENTIALS_FILE"] ?? home + "/.aws/credentials"
        configPath = environment["AWS_CONFIG_FILE"] ?? home + "/.aws/config"
        let named = profile ?? environment["AWS_PROFILE"].flatMap { $0.isEmpty ? nil : $0 }
        profileName = named ?? "default"
        profileNamed = named != nil && named != "default"
    }

    /// The merged settings of profile `name`; empty when neither file has it.
    func profile(_ name: String) throws -> [String: String] {
        let config = try Self.read(configPath, section: name == "default" ? "default" : "profile \(name)")
        let credentials = try Self.read(credentialsPath, section: name)
        return config.merging(credentials) { $1 }
    }

    /// Whether either file has a section for profile `name`.
    func hasProfile(_ name: String) throws -> Bool {
        try Self.sections(credentialsPath).contains(name) || Self.sections(configPath).contains(name == "default" ? "default" : "profile \(name)")
    }

    /// Where a profile's settings come from, for messages.
    func describe(_ name: String) -> String { "profile \(name) in \(credentialsPath) or \(configPath)" }

    static func sections(_ path: String) throws -> Set<String> {
        Set(try parse(path).map(\.section))
    }

    /// The keys of one `[section]`; empty when the file or section is absent.
    static func read(_ path: String, section: String) throws -> [String: String] {
        var values: [String: String] = [:]
        for entry in try parse(path) where entry.section == section { values.merge(entry.values) { $1 } }
        return values
    }

    static func parse(_ path: String) throws -> [(section: String, values: [String: String])] {
        guard let data = FileManager.default.contents(atPath: path) else { return [] }
        var sections: [(section: String, values: [String: String])] = []
        for (number, raw) in String(decoding: data, as: UTF8.self).split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let line = raw.trimmingCharacters(in: .whitespaces)
            if line.isEmpty || line.hasPrefix("#") || line.hasPrefix(";") { continue }
            if line.hasPrefix("[") {
                guard line.hasSuffix("]") else { throw AWSError(code: "InvalidConfigFile", message: "\(path):\(number + 1): malformed section header") }
                let name = String(line.dropFirst().dropLast()).trimmingCharacters(in: .whitespaces)
                sections.append((name.split(separator: " ", omittingEmptySubsequences: true).joined(separator: " "), [:]))
                continue
            }
            // Indented lines are sub-settings (`s3 =` blocks); none of ours.
            guard !raw.hasPrefix(" "), !raw.hasPrefix("\t"), !sections.isEmpty, let equals = line.firstIndex(of: "=") else { continue }
            let key = line[..<equals].trimmingCharacters(in: .whitespaces).lowercased()
            sections[sections.count - 1].values[key] = line[line.index(after: equals)...].trimmingCharacters(in: .whitespaces)
        }
        return sections
    }
}
