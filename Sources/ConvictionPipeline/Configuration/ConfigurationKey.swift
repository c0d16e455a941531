import ConvictionCore
import ConvictionFeatures
import ConvictionIngest
import ConvictionModeling
import ConvictionScoring
import Foundation

extension ConvictionConfiguration {
    /// One configuration key: its name in the file (`section.key`), its help, and how it reads and
    /// writes the configuration.
    struct Key: Sendable {
        let name: String
        let help: String
        let get: @Sendable (ConvictionConfiguration) -> TOMLDocument.Value
        let set: @Sendable (inout ConvictionConfiguration, TOMLDocument.Value) throws(ValueError) -> Void
    }

    struct ValueError: Swift.Error { let message: String }

    static func string(_ v: TOMLDocument.Value) throws(ValueError) -> String {
        guard case .string(let s) = v else { throw ValueError(message: "expected a string in double quotes") }
        return s
    }
    static func int(_ v: TOMLDocument.Value, _ range: ClosedRange<Int>) throws(ValueError) -> Int {
        guard case .integer(let i) = v else { throw ValueError(message: "expected an integer") }
        guard range.contains(i) else { throw ValueError(message: "\(i) is out of range \(range.lowerBound)...\(range.upperBound)") }
        return i
    }
    static func double(_ v: TOMLDocument.Value, _ range: ClosedRange<Double>) throws(ValueError) -> Double {
        let d: Double
        switch v {
        case .float(let f): d = f
        case .integer(let i): d = Double(i)
        default: throw ValueError(message: "expected a number")
        }
        guard range.contains(d) else { throw ValueError(message: "\(d) is out of range \(range.lowerBound)...\(range.upperBound)") }
        return d
    }
    static func bool(_ v: TOMLDocument.Value) throws(ValueError) -> Bool {
        guard case .bool(let b) = v else { throw ValueError(message: "expected true or false") }
        return b
    }
    static func strings(_ v: TOMLDocument.Value) throws(ValueError) -> [String] {
        guard case .array(let items) = v else { throw ValueError(message: "expected an array of strings") }
        var out: [String] = []
        for item in items { out.append(try string(item)) }
        return out
    }
    /// `[low, high]` inside `limits`, low below high.
    static func range(_ v: TOMLDocument.Value, _ limits: ClosedRange<Double>) throws(ValueError) -> (Double, Double) {
        guard case .array(let items) = v, items.count == 2 else { throw ValueError(message: "expected [low, high]") }
        let low = try double(items[0], limits), high = try double(items[1], limits)
        guard low < high else { throw ValueError(message: "low \(low) is not below high \(high)") }
        return (low, high)
    }

    /// An http(s) URL, or empty when `optional`.
    static func url(_ v: TOMLDocument.Value, optional: Bool = true) throws(ValueError) -> String {
        let s = try string(v)
        guard (optional && s.isEmpty) || s.hasPrefix("http://") || s.hasPrefix("https://") else { throw ValueError(message: "\(s.debugDescription) is not an http(s) URL") }
        return s
    }

    /// A YYYY-MM-DD date, or empty for none.
    static func date(_ v: TOMLDocument.Value) throws(ValueError) -> CivilDate? {
        let s = try string(v)
        if s.isEmpty { return nil }
        return try requiredDate(v)
    }

    /// A YYYY-MM-DD date.
    static func requiredDate(_ v: TOMLDocument.Value) throws(ValueError) -> CivilDate {
        let s = try string(v)
        guard let d = CivilDate(iso: s) else { throw ValueError(message: "\(s.debugDescription) is not a YYYY-MM-DD date") }
        return d
    }

    static func oneOf(_ v: TOMLDocument.Value, _ allowed: [String]) throws(ValueError) -> String {
        let s = try string(v)
        guard allowed.contains(s) else { throw ValueError(message: "\(s.debugDescription) is not one of \(allowed.joined(separator: ", "))") }
        return s
    }

    /// One of an enumeration's cases, by its raw value; the error lists them all.
    static func choice<E: RawRepresentable & CaseIterable>(_ v: TOMLDocument.Value, _: E.Type = E.self) throws(ValueError) -> E where E.RawValue == String {
        let s = try oneOf(v, E.allCases.map(\.rawValue))
        return E(rawValue: s)!
    }

    /// A duration given in seconds (a key named `..._seconds`), whole or fractional.
    static func seconds(_ v: TOMLDocument.Value, _ range: ClosedRange<Double>) throws(ValueError) -> Duration {
        .milliseconds(Int64((try double(v, range) * 1000).rounded()))
    }

    /// A duration given in whole seconds.
    static func wholeSeconds(_ v: TOMLDocument.Value, _ range: ClosedRange<Int>) throws(ValueError) -> Duration {
        .seconds(try int(v, range))
    }
}

extension Duration {
    /// Whole seconds, for keys that take an integer.
    var wholeSeconds: Int { Int(components.seconds) }
}
