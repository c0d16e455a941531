import ConvictionCore
import ConvictionFeatures
import ConvictionIngest
import ConvictionModeling
import ConvictionScoring
import Foundation

extension ConvictionConfiguration {
    /// A commented configuration file holding these values (`conviction config init`).
    public func renderTOML() -> String {
        var out = "# Conviction configuration. Every key is optional; these are the defaults.\n"
        out += "# Environment variables override the file (CONVICTION_TRAINING_FOLDS=3), and flags override both.\n"
        var section = ""
        for key in Self.keys {
            let parts = key.name.split(separator: ".", maxSplits: 1)
            if String(parts[0]) != section {
                section = String(parts[0])
                out += "\n[\(section)]\n"
            }
            out += "# \(key.help)\n\(parts[1]) = \(Self.render(key.get(self)))\n"
        }
        return out
    }

    /// Resolved values, one `key = value` line each (`conviction config show`).
    public func renderResolved() -> String {
        Self.keys.map { "\($0.name) = \(Self.render($0.get(self)))" }.joined(separator: "\n")
    }

    static func render(_ value: TOMLDocument.Value) -> String {
        switch value {
        case .string(let s):
            return "\"" + s.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"")
                .replacingOccurrences(of: "\n", with: "\\n").replacingOccurrences(of: "\t", with: "\\t") + "\""
        case .integer(let i): return String(i)
        case .float(let d): return String(d)
        case .bool(let b): return String(b)
        case .array(let items): return "[" + items.map(render).joined(separator: ", ") + "]"
        }
    }
}
