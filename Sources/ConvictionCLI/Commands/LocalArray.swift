import ConvictionAWS
import Foundation
import Synchronization

/// An array job's children as processes on this machine, as AWS Batch runs them on several: child
/// `i` gets `AWS_BATCH_JOB_ARRAY_INDEX=i` (and `AWS_BATCH_JOB_ATTEMPT`), its output is relayed line
/// by line behind `[i] `, and a child killed by a signal (how a reclaimed instance looks from here)
/// or exiting 69 or 75 is started again, up to `attempts`, as the job definition's retry strategy
/// does. Any other failure is final.
final class LocalArray: Sendable {
    struct ChildResult: Sendable {
        let index: Int
        let attempts: Int
        /// The last attempt's exit status; 128 + N for a signal.
        let status: Int32
        let history: [String]
        /// Units the child's attempts reported committed, in order.
        let committed: [String]
    }

    let children: Int
    let attempts: Int
    let arguments: [String]
    private let running = Mutex<[Int: Int32]>([:])
    private let stopping = Atomic<Bool>(false)

    init(children: Int, attempts: Int, arguments: [String]) {
        self.children = children; self.attempts = attempts; self.arguments = arguments
    }

    /// Asks every running child to stop (SIGTERM) and starts no more attempts.
    func stop() {
        stopping.store(true, ordering: .relaxed)
        for pid in running.withLock({ Array($0.values) }) { kill(pid, SIGTERM) }
    }

    func run() async -> [ChildResult] {
        await withTaskGroup(of: ChildResult.self) { group in
            for index in 0..<children { group.addTask { await self.runChild(index) } }
            var results: [ChildResult] = []
            for await result in group { results.append(result) }
            return results.sorted { $0.index < $1.index }
        }
    }

    func runChild(_ index: Int) async -> ChildResult {
        var history: [String] = [], committed: [String] = []
        var status: Int32 = 0
        for attempt in 1...attempts {
            let outcome: (status: Int32, signal: Int32?, committed: [String])
            do { outcome = try await launch(index: index, attempt: attempt) } catch {
                history.append("attempt \(attempt): could not start: \(error)")
                return ChildResult(index: index, attempts: attempt, status: 71, history: history, committed: committed)
            }
            committed += outcome.committed
            if let signal = outcome.signal {
                status = 128 + signal
                history.append("attempt \(attempt): killed by signal \(signal)")
            } else {
                status = outcome.status
                history.append("attempt \(attempt): exit \(status)")
            }
            let retried = outcome.signal != nil || BatchJobDefinition.retriedExitStatuses.contains(status)
            if status == 0 || !retried || stopping.load(ordering: .relaxed) {
                return ChildResult(index: index, attempts: attempt, status: status, history: history, committed: committed)
            }
            FileHandle.standardError.write(Data("batch: child \(index) \(history.last!); retrying\n".utf8))
        }
        return ChildResult(index: index, attempts: attempts, status: status, history: history, committed: committed)
    }

    func launch(index: Int, attempt: Int) async throws -> (status: Int32, signal: Int32?, committed: [String]) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0])
        process.arguments = arguments
        var environment = ProcessInfo.processInfo.environment
        environment["AWS_BATCH_JOB_ARRAY_INDEX"] = String(index)
        environment["AWS_BATCH_JOB_ATTEMPT"] = String(attempt)
        process.environment = environment
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        process.standardInput = FileHandle.nullDevice
        let exited = AsyncStream<Void>.makeStream()
        process.terminationHandler = { _ in exited.continuation.yield(); exited.continuation.finish() }
        try process.run()
        running.withLock { $0[index] = process.processIdentifier }
        async let stdoutLines = Self.relay(out.fileHandleForReading, to: .standardOutput, prefix: "[\(index)] ")
        async let stderrLines = Self.relay(err.fileHandleForReading, to: .standardError, prefix: "[\(index)] ")
        for await _ in exited.stream {}
        running.withLock { $0[index] = nil }
        let lines = await stdoutLines
        _ = await stderrLines
        let committed = lines.compactMap { line -> String? in
            let parts = line.split(separator: " ", maxSplits: 2)
            return parts.count == 3 && parts[0] == "committed" ? String(parts[2]) : nil
        }
        let signalled = process.terminationReason == .uncaughtSignal
        return (process.terminationStatus, signalled ? process.terminationStatus : nil, committed)
    }

    /// Copies a child's output line by line behind `prefix` until it closes; the lines, for the tally.
    /// Reads on a thread of its own: a blocking read must not hold a thread of the cooperative pool.
    static func relay(_ handle: FileHandle, to target: FileHandle, prefix: String) async -> [String] {
        await withCheckedContinuation { continuation in
            Thread {
                var buffer = Data(), lines: [String] = []
                func emit(_ line: Data) {
                    let text = String(decoding: line, as: UTF8.self)
                    lines.append(text)
                    target.write(Data((prefix + text + "\n").utf8))
                }
                while true {
                    let chunk = handle.availableData
                    if chunk.isEmpty { break }
                    buffer.append(chunk)
                    while let newline = buffer.firstIndex(of: 10) {
                        emit(buffer[buffer.startIndex..<newline])
                        buffer.removeSubrange(buffer.startIndex...newline)
                    }
                }
                if !buffer.isEmpty { emit(buffer) }
                continuation.resume(returning: lines)
            }.start()
        }
    }
}
