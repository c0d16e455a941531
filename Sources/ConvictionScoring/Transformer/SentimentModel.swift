import ConvictionCore
import Crypto
import Foundation

/// A sentiment model folder: `model.onnx`, `vocab.txt` and `config.json` (a Hugging Face export of a
/// BERT sequence classifier works as it is). Labels are mapped by name from `id2label`, never by
/// position: FinBERT says `{0: positive, 1: negative, 2: neutral}`, Conviction's model
/// `{0: negative, 1: positive, 2: neutral}`.
public struct SentimentModel: Sendable {
    public let folder: String
    public let name: String
    /// First 16 hex digits of the SHA-256 of `model.onnx`.
    public let modelHash: String
    public let maxLength: Int
    public let lowercase: Bool
    /// Output column of each label.
    public let negativeIndex: Int, neutralIndex: Int, positiveIndex: Int
    public let labelCount: Int
    public var modelPath: String { folder + "/model.onnx" }

    public struct FolderError: ConvictionError {
        public var errorCode: ErrorCode { .badInput }
        public let description: String
    }

    public init(folder: String) throws {
        let fm = FileManager.default
        var isDirectory: ObjCBool = false
        guard fm.fileExists(atPath: folder, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw FolderError(description: "model folder \(folder) does not exist")
        }
        for file in ["model.onnx", "vocab.txt", "config.json"] where !fm.fileExists(atPath: folder + "/" + file) {
            throw FolderError(description: "model folder \(folder) has no \(file)")
        }
        let configPath = folder + "/config.json"
        let config = try Self.jsonObject(configPath)
        let tokenizerConfig = fm.fileExists(atPath: folder + "/tokenizer_config.json") ? try Self.jsonObject(folder + "/tokenizer_config.json") : [:]

        guard let id2label = config["id2label"] as? [String: Any], !id2label.isEmpty else {
            throw FolderError(description: "\(configPath): field id2label is missing (the label of each output, e.g. {\"0\": \"positive\"})")
        }
        var indices: [String: Int] = [:]
        for (key, value) in id2label.sorted(by: { $0.key < $1.key }) {
            guard let index = Int(key), index >= 0 else {
                throw FolderError(description: "\(configPath): id2label key \"\(key)\" is not an output index")
            }
            guard let raw = value as? String, let label = Self.canonicalLabel(raw) else {
                throw FolderError(description: "\(configPath): id2label[\"\(key)\"] = \(value) is not a sentiment label (positive, negative, neutral, bullish, bearish)")
            }
            if indices[label] != nil { throw FolderError(description: "\(configPath): id2label names \(label) twice") }
            indices[label] = index
        }
        for label in ["negative", "neutral", "positive"] where indices[label] == nil {
            throw FolderError(description: "\(configPath): id2label has no \(label) label")
        }
        negativeIndex = indices["negative"]!; neutralIndex = indices["neutral"]!; positiveIndex = indices["positive"]!
        labelCount = (indices.values.max() ?? 2) + 1

        // Max length: ours, then the tokenizer's, capped by the position table; 128 otherwise.
        let positions = config["max_position_embeddings"] as? Int ?? 512
        var length = (config["max_length"] as? Int) ?? (tokenizerConfig["model_max_length"] as? Int) ?? 128
        if length > positions { length = positions }
        guard length >= 2 else { throw FolderError(description: "\(configPath): max_length \(length) is below 2") }
        maxLength = length
        lowercase = (config["do_lower_case"] as? Bool) ?? (tokenizerConfig["do_lower_case"] as? Bool) ?? true
        self.folder = folder
        name = (config["name"] as? String) ?? URL(fileURLWithPath: folder).lastPathComponent
        modelHash = try Self.sha256Prefix(folder + "/model.onnx")
    }

    static func canonicalLabel(_ raw: String) -> String? {
        switch raw.lowercased() {
        case "positive", "bullish": "positive"
        case "negative", "bearish": "negative"
        case "neutral": "neutral"
        default: nil
        }
    }

    static func jsonObject(_ path: String) throws -> [String: Any] {
        let data = try Data(contentsOf: URL(fileURLWithPath: path))
        do {
            guard let object = try JSONSerialization.jsonObject(with: data) as? [String: Any] else {
                throw FolderError(description: "\(path): not a JSON object")
            }
            return object
        } catch let error as FolderError {
            throw error
        } catch {
            throw FolderError(description: "\(path): not valid JSON (\(error.localizedDescription))")
        }
    }

    static func sha256Prefix(_ path: String) throws -> String {
        guard let handle = FileHandle(forReadingAtPath: path) else { throw FolderError(description: "cannot read \(path)") }
        defer { try? handle.close() }
        var hasher = SHA256()
        while let chunk = try handle.read(upToCount: 1 << 22), !chunk.isEmpty { hasher.update(data: chunk) }
        return hasher.finalize().prefix(8).map { String(format: "%02x", $0) }.joined()
    }
}
