import ConvictionCore
import ConvictionXPayload
import Foundation
import Testing

/// The one reader and writer of the X payload schema: posts that came from X are written again
/// from their own bytes, never re-encoded.
@Suite struct XPayloadTests {
    /// A search answer as X might send it: keys in X's order, an escaped slash, two posts by one author.
    static let searchBody = #"""
    {"data":[{"text":"$AAPL calls \/ puts","id":"1002","author_id":"7","created_at":"2026-01-02T15:00:00.000Z","lang":"en","entities":{"cashtags":[{"start":0,"end":5,"tag":"AAPL"}]}},{"id":"1001","text":"$AAPL up","author_id":"7","created_at":"2026-01-02T14:59:00.000Z"}],"includes":{"users":[{"username":"a","id":"7","public_metrics":{"followers_count":42}}]},"meta":{"result_count":2,"next_token":"abc"}}
    """#

    @Test func searchPagesBecomeStreamMessagesWithTheBytesXSent() throws {
        let body = Data(Self.searchBody.utf8)
        let page = try XPayloadReader.searchPage(body)
        #expect(page.posts.count == 2 && page.users.count == 1 && page.nextToken == "abc")
        let bytes = [UInt8](body)
        let user = Array(bytes[page.users[0].range])
        let first = XPayloadWriter.streamMessage(data: bytes[page.posts[0].range], includes: XPayloadWriter.includes(users: [user]), matchingRules: nil)
        let text = String(decoding: first, as: UTF8.self)
        #expect(text.hasPrefix(#"{"data":{"text":"$AAPL calls \/ puts","id":"1002""#), "the post's bytes, unchanged")
        #expect(text.hasSuffix(#""includes":{"users":[{"username":"a","id":"7","public_metrics":{"followers_count":42}}]}}"#))
        let fields = try XPayloadReader.parse(first)
        #expect(fields.id == "1002" && fields.text == "$AAPL calls / puts" && fields.cashtags == ["AAPL"])
        #expect(fields.users.map(\.id) == ["7"] && fields.users.map(\.followers) == [42])
        #expect(try JSONSerialization.jsonObject(with: Data(first)) is [String: Any])
    }

    @Test func theReaderLocatesTheParsItServesAgain() throws {
        let line = Data(#"{"data":{"id":"5","text":"hi","author_id":"9","created_at":"2026-01-02T15:00:00.000Z"},"includes":{"users":[{"id":"9"}]},"matching_rules":[{"id":"1","tag":"AAPL"}]}"#.utf8)
        let fields = try XPayloadReader.parse(line)
        let bytes = [UInt8](line)
        #expect(String(decoding: bytes[fields.dataRange!], as: UTF8.self).hasPrefix(#"{"id":"5""#))
        #expect(String(decoding: bytes[fields.includesRange!], as: UTF8.self) == #"{"users":[{"id":"9"}]}"#)
        #expect(fields.users.map(\.id) == ["9"] && !fields.isV1)
        let bare = Data(#"  {"id":"5","text":"hi","author_id":"9","created_at":"2026-01-02T15:00:00.000Z"} "#.utf8)
        let bareFields = try XPayloadReader.parse(bare)
        #expect(String(decoding: [UInt8](bare)[bareFields.dataRange!], as: UTF8.self) == String(decoding: bare, as: UTF8.self).trimmingCharacters(in: .whitespaces))
        let v1 = try XPayloadReader.parse(Data(#"{"id":5,"id_str":"5","text":"hi","created_at":"Tue Jun 02 10:29:27 +0000 2015","user":{"id_str":"9","followers_count":3}}"#.utf8))
        #expect(v1.isV1 && v1.users.map(\.id) == ["9"] && v1.users.map(\.followers) == [3])
    }

    @Test func ruleTagsAndIDsAreEscapedAsJSONStrings() throws {
        let line = XPayloadWriter.streamMessage(data: Array(#"{"id":"1"}"#.utf8), includes: nil, matchingRules: [(id: "r\"1", tag: "A\\B\n")])
        let object = try #require(try JSONSerialization.jsonObject(with: Data(line)) as? [String: Any])
        let rules = try #require(object["matching_rules"] as? [[String: String]])
        #expect(rules == [["id": "r\"1", "tag": "A\\B\n"]])
    }

    @Test func anEmptySearchPageHasOnlyItsMeta() throws {
        let body = XPayloadWriter.searchPage(posts: [], users: [], newestID: nil, oldestID: nil, nextToken: nil)
        #expect(String(decoding: body, as: UTF8.self) == #"{"meta":{"result_count":0}}"#)
        #expect(try XPayloadReader.searchPage(Data(body)).posts.isEmpty)
    }
}
