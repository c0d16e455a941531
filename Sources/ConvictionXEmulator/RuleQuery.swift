import ConvictionCore
/// The part of X's rule and search-query language that Conviction's rules use, parsed and
/// evaluated the way X documents it: terms side by side are AND-ed, and AND binds tighter than OR.
/// Terms: `$CASHTAG`, keywords (whole words, case-insensitive), `"exact phrases"`, `lang:xx`,
/// `is:retweet`, negation with `-`, and parentheses.
indirect enum RuleQuery: Sendable, Equatable {
    case cashtag(String)
    case keyword(String)
    case phrase(String)
    case lang(String)
    case isRetweet
    case not(RuleQuery)
    case and([RuleQuery])
    case or([RuleQuery])

    struct SyntaxError: ConvictionError {
        let description: String
        var errorCode: ErrorCode { .badInput }
    }

    /// What a post offers to matching.
    /// What a rule is matched against. Its words come from this server's own tokenizer, not the
    /// client's filter, so a tokenizer bug on either side shows up in tests as a disagreement.
    struct Subject: Sendable {
        var cashtags: Set<String>
        var words: Set<String>
        var loweredText: String
        var lang: String?
        var isRetweet: Bool

        init(text: String, cashtags: [String], lang: String?, isRetweet: Bool) {
            loweredText = text.lowercased()
            // X matches keywords as whole tokens: runs of letters and digits, in any script.
            words = Set(loweredText.split { !($0.isLetter || $0.isNumber) }.map(String.init))
            self.cashtags = Set(cashtags.map { $0.uppercased() })
            self.lang = lang
            self.isRetweet = isRetweet
        }
    }

    static func parse(_ text: String) throws -> RuleQuery {
        var tokens = try tokenize(text)[...]
        guard !tokens.isEmpty else { throw SyntaxError(description: "empty rule") }
        let query = try parseOr(&tokens)
        guard tokens.isEmpty else { throw SyntaxError(description: "unexpected \(tokens.first!) in \(text.debugDescription)") }
        return query
    }

    func matches(_ s: Subject) -> Bool {
        switch self {
        case .cashtag(let tag): return s.cashtags.contains(tag)
        case .keyword(let word): return s.words.contains(word)
        case .phrase(let phrase): return s.loweredText.contains(phrase)
        case .lang(let lang): return s.lang == lang
        case .isRetweet: return s.isRetweet
        case .not(let q): return !q.matches(s)
        case .and(let qs): return qs.allSatisfy { $0.matches(s) }
        case .or(let qs): return qs.contains { $0.matches(s) }
        }
    }

    private enum Token: Equatable, CustomStringConvertible {
        case open, close, or, minus, term(String), quoted(String)
        var description: String {
            switch self {
            case .open: "("
            case .close: ")"
            case .or: "OR"
            case .minus: "-"
            case .term(let t): t
            case .quoted(let q): "\"\(q)\""
            }
        }
    }

    private static func tokenize(_ text: String) throws -> [Token] {
        var tokens: [Token] = []
        var i = text.startIndex
        while i < text.endIndex {
            let c = text[i]
            if c.isWhitespace { i = text.index(after: i); continue }
            if c == "(" { tokens.append(.open); i = text.index(after: i); continue }
            if c == ")" { tokens.append(.close); i = text.index(after: i); continue }
            if c == "-" { tokens.append(.minus); i = text.index(after: i); continue }
            if c == "\"" {
                guard let end = text[text.index(after: i)...].firstIndex(of: "\"") else { throw SyntaxError(description: "unterminated quote") }
                tokens.append(.quoted(String(text[text.index(after: i)..<end]).lowercased()))
                i = text.index(after: end)
                continue
            }
            var j = i
            while j < text.endIndex, !text[j].isWhitespace, text[j] != "(", text[j] != ")" { j = text.index(after: j) }
            let word = String(text[i..<j])
            tokens.append(word == "OR" ? .or : .term(word))
            i = j
        }
        return tokens
    }

    private static func parseOr(_ tokens: inout ArraySlice<Token>) throws -> RuleQuery {
        var alternatives = [try parseAnd(&tokens)]
        while tokens.first == .or {
            tokens.removeFirst()
            alternatives.append(try parseAnd(&tokens))
        }
        return alternatives.count == 1 ? alternatives[0] : .or(alternatives)
    }

    private static func parseAnd(_ tokens: inout ArraySlice<Token>) throws -> RuleQuery {
        var terms: [RuleQuery] = []
        while let next = tokens.first, next != .or, next != .close { terms.append(try parseUnary(&tokens)) }
        guard !terms.isEmpty else { throw SyntaxError(description: "missing term before \(tokens.first.map(\.description) ?? "end")") }
        return terms.count == 1 ? terms[0] : .and(terms)
    }

    private static func parseUnary(_ tokens: inout ArraySlice<Token>) throws -> RuleQuery {
        if tokens.first == .minus {
            tokens.removeFirst()
            return .not(try parsePrimary(&tokens))
        }
        return try parsePrimary(&tokens)
    }

    private static func parsePrimary(_ tokens: inout ArraySlice<Token>) throws -> RuleQuery {
        guard let token = tokens.popFirst() else { throw SyntaxError(description: "rule ends early") }
        switch token {
        case .open:
            let inner = try parseOr(&tokens)
            guard tokens.popFirst() == .close else { throw SyntaxError(description: "unbalanced parentheses") }
            return inner
        case .quoted(let phrase): return .phrase(phrase)
        case .term(let term):
            if term.hasPrefix("$"), term.count > 1 { return .cashtag(String(term.dropFirst()).uppercased()) }
            if term.hasPrefix("lang:") { return .lang(String(term.dropFirst(5))) }
            if term == "is:retweet" { return .isRetweet }
            if term.contains(":") { throw SyntaxError(description: "operator \(term) is not supported by this server") }
            return .keyword(term.lowercased())
        case .close, .or, .minus: throw SyntaxError(description: "unexpected \(token)")
        }
    }
}
