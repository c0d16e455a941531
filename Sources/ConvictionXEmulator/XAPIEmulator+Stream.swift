import ConvictionCore
import ConvictionHTTP
import ConvictionXPayload
import Foundation
import NIOConcurrencyHelpers
import NIOCore
import NIOHTTP1

extension XAPIEmulator {
    // MARK: - Stream

    /// The next scheduled fault, if it is of the wanted kind (connect-time or in-stream); consumes it.
    func takeFault(atConnect: Bool) -> Fault? {
        mutable.withLockedValue { m in
            guard !configuration.faults.isEmpty, m.nextFault < configuration.faultCount else { return nil }
            let fault = configuration.faults[m.nextFault % configuration.faults.count]
            guard fault.atConnect == atConnect else { return nil }
            m.nextFault += 1
            m.state.faultsInjected[fault.rawValue, default: 0] += 1
            return fault
        }
    }

    private var connectFaultIsNext: Bool {
        mutable.withLockedValue { m in
            !configuration.faults.isEmpty && m.nextFault < configuration.faultCount
                && configuration.faults[m.nextFault % configuration.faults.count].atConnect
        }
    }

    func stream(_ writer: HTTPServer.ResponseWriter, limitHeaders: [(String, String)]) async throws {
        if let fault = takeFault(atConnect: true) {
            mutable.withLockedValue { $0.state.connectLog.append(fault == .tooManyConnections ? "429" : "5xx") }
            if fault == .tooManyConnections {
                return try await writer.respond(.tooManyRequests, body: json(Self.tooManyConnectionsBody), headers: limitHeaders)
            }
            return try await writer.respond(.serviceUnavailable, body: json(["title": "Service Unavailable", "detail": "Service Unavailable", "type": "about:blank", "status": 503]),
                                            headers: limitHeaders)
        }
        if usageCapReached {
            mutable.withLockedValue { $0.state.connectLog.append("429") }
            return try await writer.respond(.tooManyRequests, body: json(Self.usageCapBody), headers: limitHeaders)
        }
        // One connection at a time. A client that just closed its previous connection gets a
        // moment for the close to arrive; one that left it open gets X's TooManyConnections.
        let arrived = ContinuousClock.now
        while mutable.withLockedValue({ $0.state.activeStreams }) > 0 && ContinuousClock.now - arrived < configuration.admissionGrace {
            try await Task.sleep(for: .milliseconds(2))
        }
        // The connection's first post is fixed when it is admitted: posts published earlier were
        // published while no one listened (the first connection starts the clock, so it misses none).
        let admitted = mutable.withLockedValue { m -> Int? in
            guard m.state.activeStreams == 0 else {
                m.state.unexpectedTooManyConnections += 1
                m.state.connectLog.append("429")
                return nil
            }
            m.state.activeStreams += 1
            m.state.streamConnects += 1
            m.state.connectLog.append("ok")
            if m.publishStart == nil { m.publishStart = configuration.clock.monotonicMillis() }
            return publishedCount(m)
        }
        guard var cursor = admitted else {
            return try await writer.respond(.tooManyRequests, body: json(Self.tooManyConnectionsBody), headers: limitHeaders)
        }
        defer { mutable.withLockedValue { $0.state.activeStreams -= 1 } }
        try await writer.head(.ok, headers: limitHeaders + [("content-type", "application/json; charset=utf-8")])

        let clock = configuration.clock
        var sinceFault = 0
        var lastWrite = clock.monotonicMillis()
        // A fault due before this connection sent anything re-sends the newest matching post
        // published so far (X may deliver a post again after a reconnect).
        var lastLine: [UInt8]? = lastMatchingLine(before: cursor)
        let newline: [UInt8] = [0x0D, 0x0A]
        while true {
            if connectFaultIsNext || usageCapReached { try await writer.end(); return }  // a clean close, so the next connect meets the fault or the cap
            let published = mutable.withLockedValue { publishedCount($0) }
            guard cursor < published else {
                // Nothing new to send: a fault that is due still happens (re-sending the last post
                // where it needs one), so a schedule never waits on posts that will not come.
                if clock.elapsed(since: lastWrite) >= configuration.keepAliveInterval, let fault = takeFault(atConnect: false) {
                    sinceFault = 0
                    if try await inject(fault, line: lastLine, writer) { return }
                    lastWrite = clock.monotonicMillis()
                    continue
                }
                if clock.elapsed(since: lastWrite) >= configuration.keepAliveInterval {
                    try await writer.chunk(newline)
                    lastWrite = clock.monotonicMillis()
                }
                try await Task.sleep(for: .milliseconds(2))
                if writer.isClosed { return }
                continue
            }
            var chunk: [UInt8] = []
            var chunkIDs: [UInt64] = []
            var lines = 0
            // Ids count as streamed once their whole line was handed to the connection.
            func flush() async throws {
                try await writer.chunk(chunk)
                let ids = chunkIDs
                mutable.withLockedValue { m in m.streamedIDs.formUnion(ids); m.state.streamedPosts = m.streamedIDs.count }
                chunk = []; chunkIDs = []; lines = 0
            }
            let rules = mutable.withLockedValue { $0.parsedRules }
            while cursor < published {
                let entry = feed.entries[cursor]
                cursor += 1
                let matched = rules.filter { $0.query.matches(entry.subject) }
                guard !matched.isEmpty else { continue }
                let line = entry.streamLine(matching: matched.map { ($0.id, $0.tag) }) + newline
                lastLine = line
                sinceFault += 1
                if sinceFault >= configuration.faultEveryPosts, let fault = takeFault(atConnect: false) {
                    sinceFault = 0
                    if !chunk.isEmpty { try await flush() }
                    if try await inject(fault, line: line, writer) { return }
                    // The faults that did not end the connection sent this post whole.
                    let id = entry.id
                    mutable.withLockedValue { m in m.streamedIDs.insert(id); m.state.streamedPosts = m.streamedIDs.count }
                    lastWrite = clock.monotonicMillis()
                    continue
                }
                chunk += line
                chunkIDs.append(entry.id)
                lines += 1
                if lines >= configuration.linesPerChunk {
                    try await flush()
                    // The cap is checked between chunks, also when many posts are pending at once
                    // (a connection that fell behind), so it is overshot by one chunk at most.
                    if usageCapReached { break }
                }
            }
            if !chunk.isEmpty { try await flush() }
            lastWrite = clock.monotonicMillis()
        }
    }

    func lastMatchingLine(before cursor: Int) -> [UInt8]? {
        let rules = mutable.withLockedValue { $0.parsedRules }
        for entry in feed.entries[..<min(cursor, feed.entries.count)].reversed() {
            let matched = rules.filter { $0.query.matches(entry.subject) }
            if !matched.isEmpty { return entry.streamLine(matching: matched.map { ($0.id, $0.tag) }) + [0x0D, 0x0A] }
        }
        return nil
    }

    /// Applies an in-stream fault around `line` (the post due next, or the last one sent). Returns
    /// true when the fault ended the connection.
    func inject(_ fault: Fault, line: [UInt8]?, _ writer: HTTPServer.ResponseWriter) async throws -> Bool {
        let newline: [UInt8] = [0x0D, 0x0A]
        switch fault {
        case .dropMidLine:
            if let line { try await writer.chunk(line.prefix(line.count / 2)) }
            return true  // no terminating chunk: the connection just ends
        case .stall:
            let start = configuration.clock.monotonicMillis()
            while !writer.isClosed && configuration.clock.elapsed(since: start) < configuration.stallLimit { try await Task.sleep(for: .milliseconds(5)) }
            return true
        case .operationalDisconnect:
            try await writer.chunk(json(Self.operationalDisconnectBody) + Data(newline))
            try await writer.end()
            return true
        case .malformedJSON:
            try await writer.chunk(Array("{\"data\":{\"id\":\"12".utf8) + [0x7D, 0x2C, 0x5B] + newline)
            if let line { try await writer.chunk(line) }
        case .splitUTF8:
            // Cut inside the first multi-byte character (mid-line when there is none).
            guard let line else { return false }
            let cut = line.firstIndex { $0 >= 0xC0 }.map { $0 + 1 } ?? line.count / 2
            try await writer.chunk(line[..<cut])
            try await writer.chunk(line[cut...])
        case .duplicate:
            guard let line else { return false }
            try await writer.chunk(line)
            try await writer.chunk(line)
        case .tooManyConnections, .serverError:
            break
        }
        return false
    }

    static var tooManyConnectionsBody: [String: Any] { [
        "title": "ConnectionException", "detail": "This stream is currently at the maximum allowed connection limit.",
        "connection_issue": "TooManyConnections", "type": "https://api.twitter.com/2/problems/streaming-connection",
    ] }
    static var operationalDisconnectBody: [String: Any] { ["errors": [[
        "title": "operational-disconnect", "disconnect_type": "UpstreamOperationalDisconnect",
        "detail": "This stream has been disconnected upstream for operational reasons.",
        "type": "https://api.twitter.com/2/problems/operational-disconnect",
    ]]] }
}
