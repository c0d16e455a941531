import ConvictionCore
import Foundation

/// BERT's tokenizer: basic tokenisation then greedy longest-match WordPiece, written to give the
/// same ids as Hugging Face `tokenizers` (BertNormalizer + BertPreTokenizer + WordPiece + the
/// `[CLS] … [SEP]` template) for the same vocabulary.
///
/// Everything works on Unicode scalars, as the reference works on Rust `char`s: Swift's `String`
/// compares by canonical equivalence and counts grapheme clusters, either of which would make
/// different tokens than the reference.
public struct WordPieceTokenizer: Sendable {
    public let lowercase: Bool
    /// Accent stripping follows lower-casing unless a model says otherwise (as in `tokenizers`).
    public let stripAccents: Bool
    /// Longest output, `[CLS]` and `[SEP]` included.
    public let maxLength: Int
    public let maxCharactersPerWord = 100
    public let clsID: Int32, sepID: Int32, unkID: Int32, padID: Int32
    public let vocabularySize: Int
    private let initial: ScalarTrie
    private let continuation: ScalarTrie

    public struct VocabularyError: ConvictionError {
        public var errorCode: ErrorCode { .badInput }
        public let description: String
    }

    /// `vocabulary`: the lines of `vocab.txt`, id = line number.
    public init(vocabulary: [String], lowercase: Bool, stripAccents: Bool? = nil, maxLength: Int, source: String = "vocab.txt") throws {
        var ids: [String: Int32] = [:]
        var initial = ScalarTrie(), continuation = ScalarTrie()
        for (i, token) in vocabulary.enumerated() where !token.isEmpty {
            let id = Int32(i)
            if ids[token] == nil { ids[token] = id }
            let scalars = Array(token.unicodeScalars)
            if scalars.count > 2, scalars[0] == "#", scalars[1] == "#" {
                continuation.insert(scalars[2...], id: id)
            } else {
                initial.insert(scalars[...], id: id)
            }
        }
        func special(_ name: String) throws -> Int32 {
            guard let id = ids[name] else { throw VocabularyError(description: "\(source): the vocabulary has no \(name) token") }
            return id
        }
        guard maxLength >= 2 else { throw VocabularyError(description: "\(source): max length \(maxLength) leaves no room for [CLS] and [SEP]") }
        self.lowercase = lowercase
        self.stripAccents = stripAccents ?? lowercase
        self.maxLength = maxLength
        self.clsID = try special("[CLS]"); self.sepID = try special("[SEP]"); self.unkID = try special("[UNK]")
        self.padID = ids["[PAD]"] ?? 0
        self.vocabularySize = vocabulary.count
        self.initial = initial
        self.continuation = continuation
    }

    /// Reads a `vocab.txt` (one token per line).
    public init(vocabularyFile: String, lowercase: Bool, stripAccents: Bool? = nil, maxLength: Int) throws {
        let data = try Data(contentsOf: URL(fileURLWithPath: vocabularyFile))
        var lines = String(decoding: data, as: UTF8.self).components(separatedBy: "\n")
        if lines.last == "" { lines.removeLast() }
        try self.init(vocabulary: lines.map { $0.hasSuffix("\r") ? String($0.dropLast()) : $0 }, lowercase: lowercase,
                      stripAccents: stripAccents, maxLength: maxLength, source: vocabularyFile)
    }

    public struct Encoding: Sendable, Equatable {
        /// `[CLS] tokens [SEP]`, at most `maxLength` ids.
        public var ids: [Int32]
        /// Word pieces dropped to fit `maxLength`.
        public var truncated: Int
    }

    public func encode(_ text: String) -> Encoding {
        var pieces: [Int32] = []
        for word in words(in: text) { wordPieces(word, into: &pieces) }
        let room = maxLength - 2
        let truncated = max(0, pieces.count - room)
        if truncated > 0 { pieces.removeLast(truncated) }
        return Encoding(ids: [clsID] + pieces + [sepID], truncated: truncated)
    }

    /// BertNormalizer (clean text, space around CJK, strip accents, lower-case) then BertPreTokenizer
    /// (split on whitespace, every punctuation character a word of its own).
    func words(in text: String) -> [[Unicode.Scalar]] {
        var normalized: [Unicode.Scalar] = []
        normalized.reserveCapacity(text.unicodeScalars.count + 8)
        for s in text.unicodeScalars {
            if s.value == 0 || s.value == 0xFFFD || Self.isControl(s) { continue }
            if Self.isCleanWhitespace(s) { normalized.append(" "); continue }
            if Self.isCJK(s) { normalized.append(" "); normalized.append(s); normalized.append(" "); continue }
            normalized.append(s)
        }
        if stripAccents {
            var view = String.UnicodeScalarView()
            view.append(contentsOf: normalized)
            let decomposed = String(view).decomposedStringWithCanonicalMapping
            normalized = decomposed.unicodeScalars.filter { $0.properties.generalCategory != .nonspacingMark }
        }
        if lowercase {
            var lowered: [Unicode.Scalar] = []
            lowered.reserveCapacity(normalized.count)
            for s in normalized {
                if s.isASCII {
                    lowered.append(s.value >= 65 && s.value <= 90 ? Unicode.Scalar(s.value + 32)! : s)
                } else {
                    lowered.append(contentsOf: s.properties.lowercaseMapping.unicodeScalars)
                }
            }
            normalized = lowered
        }
        var words: [[Unicode.Scalar]] = []
        var current: [Unicode.Scalar] = []
        for s in normalized {
            if s.properties.isWhitespace {
                if !current.isEmpty { words.append(current); current = [] }
            } else if Self.isPunctuation(s) {
                if !current.isEmpty { words.append(current); current = [] }
                words.append([s])
            } else {
                current.append(s)
            }
        }
        if !current.isEmpty { words.append(current) }
        return words
    }

    /// Greedy longest match; a word with any piece not in the vocabulary becomes one `[UNK]`.
    func wordPieces(_ word: [Unicode.Scalar], into out: inout [Int32]) {
        if word.count > maxCharactersPerWord { out.append(unkID); return }
        let mark = out.count
        var start = 0
        while start < word.count {
            let trie = start == 0 ? initial : continuation
            guard let (id, end) = trie.longestMatch(word, from: start) else {
                out.removeSubrange(mark...)
                out.append(unkID)
                return
            }
            out.append(id)
            start = end
        }
    }

    // Character classes as `tokenizers` defines them.
    static func isCleanWhitespace(_ s: Unicode.Scalar) -> Bool { s.properties.isWhitespace }
    static func isControl(_ s: Unicode.Scalar) -> Bool {
        if s == "\t" || s == "\n" || s == "\r" { return false }
        switch s.properties.generalCategory {
        case .control, .format, .unassigned, .privateUse, .surrogate: return true
        default: return false
        }
    }
    static func isPunctuation(_ s: Unicode.Scalar) -> Bool {
        if s.isASCII {
            let v = s.value
            return (33...47).contains(v) || (58...64).contains(v) || (91...96).contains(v) || (123...126).contains(v)
        }
        switch s.properties.generalCategory {
        case .connectorPunctuation, .dashPunctuation, .openPunctuation, .closePunctuation,
             .initialPunctuation, .finalPunctuation, .otherPunctuation: return true
        default: return false
        }
    }
    static func isCJK(_ s: Unicode.Scalar) -> Bool {
        switch s.value {
        case 0x4E00...0x9FFF, 0x3400...0x4DBF, 0x20000...0x2A6DF, 0x2A700...0x2B73F, 0x2B740...0x2B81F,
             0x2B820...0x2CEAF, 0xF900...0xFAFF, 0x2F800...0x2FA1F: return true
        default: return false
        }
    }
}

/// Vocabulary pieces by Unicode scalar, for greedy longest-prefix matching in one walk.
struct ScalarTrie: Sendable {
    private var children: [[UInt32: Int32]] = [[:]]
    private var ids: [Int32] = [-1]

    mutating func insert(_ scalars: ArraySlice<Unicode.Scalar>, id: Int32) {
        var node = 0
        for s in scalars {
            if let next = children[node][s.value] {
                node = Int(next)
            } else {
                children.append([:]); ids.append(-1)
                let next = Int32(children.count - 1)
                children[node][s.value] = next
                node = Int(next)
            }
        }
        if ids[node] < 0 { ids[node] = id }
    }

    /// The longest vocabulary piece starting at `start`: its id and where it ends.
    func longestMatch(_ word: [Unicode.Scalar], from start: Int) -> (Int32, Int)? {
        var node = 0
        var best: (Int32, Int)?
        var i = start
        while i < word.count, let next = children[node][word[i].value] {
            node = Int(next)
            i += 1
            if ids[node] >= 0 { best = (ids[node], i) }
        }
        return best
    }
}
