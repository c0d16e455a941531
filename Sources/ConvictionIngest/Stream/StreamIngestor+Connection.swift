import AsyncHTTPClient
import ConvictionCore
import ConvictionHTTP
import ConvictionStore
import Foundation
import Logging
import NIOConcurrencyHelpers
import NIOCore

extension StreamIngestor {
    // MARK: - Connections

    func waitFor(_ cls: DisconnectClass, attempt: Int, rateLimit: RateLimit?) -> Wait {
        var duration = settings.policy.wait(for: cls, attempt: attempt)
        var untilReset = false
        if let rateLimit, rateLimit.remaining == 0 {
            // Capped: a reset further off than one window plus a minute is a clock mismatch, not a limit.
            let reset = min(throttle.untilReset(rateLimit), settings.policy.rateLimitMax)
            if reset > duration { duration = reset; untilReset = true }
        }
        return Wait(cls: cls, attempt: attempt, duration: duration, untilReset: untilReset)
    }

    func connectionLoop(_ queue: AsyncStream<Item>.Continuation) async {
        var attempts: [DisconnectClass: Int] = [:]
        var authFailures = 0
        var seq = 0
        var wait: Wait?
        while !isStopping && !Task.isCancelled {
            if let wait, wait.duration > .zero {
                metrics.update { $0.backoffSeconds = wait.duration.seconds }
                do { try await clock.sleep(for: wait.duration) } catch { break }
                metrics.update { $0.backoffSeconds = 0 }
            }
            if isStopping || Task.isCancelled { break }
            let connection = api.openStream()
            let cls: DisconnectClass
            var rateLimit: RateLimit?
            var established = false
            do {
                event("connecting")
                let (body, limit) = try await connection.connect(timeout: settings.idleTimeout + .seconds(10))
                rateLimit = limit
                established = true
                attempts = [:]
                authFailures = 0
                metrics.update { $0.connected = true }
                summary.withLockedValue { $0.connects += 1 }
                event("connected")
                queue.yield(.gap(reason: "connect", connected: true))
                try await read(body, into: queue, seq: &seq)
                event("disconnected", ["class": "dropped", "why": "server closed the stream"])
                cls = .dropped
            } catch StreamEnd.idle {
                summary.withLockedValue { $0.idleDrops += 1 }
                event("disconnected", ["class": "dropped", "why": "no bytes for \(settings.idleTimeout.seconds) s"])
                cls = .dropped
            } catch StreamEnd.operationalDisconnect(let detail) {
                event("disconnected", ["class": "dropped", "why": "operational-disconnect", "detail": .string(detail)])
                cls = .dropped
            } catch let error as XAPIError {
                rateLimit = error.rateLimit ?? rateLimit
                cls = error.status == 429 ? .rateLimited : .http
                event("connect refused", ["class": .string(cls.rawValue), "status": "\(error.status)", "error": .string(error.description)])
                if error.isUsageCapExceeded {
                    stopForUsageCap(error)
                    break
                }
                if error.status == 401 || error.status == 403 {
                    authFailures += 1
                    if authFailures >= settings.maxAuthFailures {
                        summary.withLockedValue { $0.fatal = "\(error) (\(authFailures) times); check the bearer token" }
                        break
                    }
                }
            } catch {
                if isStopping || Task.isCancelled { break }
                // After a 200 the connection was established: its failure is a drop, not a connect error.
                cls = established ? .dropped : .network
                event(established ? "disconnected" : "connect failed", ["class": .string(cls.rawValue), "error": "\(error)"])
            }
            metrics.update { $0.connected = false; $0.reconnectsByClass[cls.rawValue, default: 0] += 1 }
            if isStopping || Task.isCancelled { break }
            let attempt = cls == .dropped ? 0 : attempts[cls, default: 0] + 1
            attempts[cls] = attempt
            let next = waitFor(cls, attempt: attempt, rateLimit: rateLimit)
            if cls != .dropped || next.duration > .zero {
                summary.withLockedValue { $0.waits.append(next) }
                event("backoff", ["class": .string(cls.rawValue), "attempt": "\(attempt)", "wait_s": "\(next.duration.seconds)",
                                  "at_maximum": "\(settings.policy.isAtMaximum(cls, attempt: attempt))"])
            } else {
                summary.withLockedValue { $0.waits.append(next) }
            }
            wait = next
        }
        metrics.update { $0.connected = false }
    }

    /// The thin reader: bytes -> lines -> queue, with the idle watchdog beside it.
    func read(_ body: HTTPClientResponse.Body, into queue: AsyncStream<Item>.Continuation, seq: inout Int) async throws {
        let clock = self.clock
        let lastByte = NIOLockedValueBox(clock.monotonicMillis())
        let idleTimeout = settings.idleTimeout
        let counter = NIOLockedValueBox(seq)
        defer { seq = counter.withLockedValue { $0 } }
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask {
                var framer = LineFramer()
                for try await buffer in body {
                    lastByte.withLockedValue { $0 = clock.monotonicMillis() }
                    for line in framer.append(buffer.readableBytesView) {
                        if line.isEmpty { self.metrics.update { $0.keepAlives += 1 }; continue }
                        if let detail = Self.streamError(line) { throw StreamEnd.operationalDisconnect(detail) }
                        let n = counter.withLockedValue { $0 += 1; return $0 }
                        self.queued.withLockedValue { $0 += 1 }
                        if case .dropped = queue.yield(.line(line, receivedAt: self.clock.now(), seq: n)) {
                            self.queued.withLockedValue { $0 -= 1 }
                            self.metrics.update { $0.queueOverflows += 1 }
                            self.overflowAfter.withLockedValue { if $0 == nil { $0 = n - 1 } }
                        }
                    }
                }
            }
            group.addTask {
                // An eighth of the timeout: a dead stream is noticed within 12% of it, and a stop does not
                // wait for the tick (it cancels this task).
                let tick = idleTimeout / 8
                while true {
                    try await clock.sleep(for: tick)
                    if self.isStopping { throw StreamEnd.stopped }
                    if clock.elapsed(since: lastByte.withLockedValue({ $0 })) > idleTimeout { throw StreamEnd.idle }
                }
            }
            defer { group.cancelAll() }
            try await group.next()
        }
    }

    /// An in-stream disconnect notice (`{"errors":[{"title":"operational-disconnect",...}]}`): X
    /// closes the stream after it, so the reader ends the connection at once.
    static func streamError(_ line: [UInt8]) -> String? {
        guard line.count < 4096, line.starts(with: Array("{\"errors\"".utf8)),
              let object = try? JSONSerialization.jsonObject(with: Data(line)) as? [String: Any], object["data"] == nil,
              let errors = object["errors"] as? [[String: Any]],
              errors.contains(where: { $0["disconnect_type"] != nil || ($0["title"] as? String) == "operational-disconnect" }) else { return nil }
        return errors.map { ($0["title"] as? String ?? "error") + ": " + ($0["detail"] as? String ?? "") }.joined(separator: "; ")
    }
}
