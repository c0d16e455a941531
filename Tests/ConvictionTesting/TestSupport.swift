import Foundation

/// Shared helpers for the test targets: temporary folders, the package root, the project's Python
/// (for reference computations) and running the `conviction` binary.
public enum TestSupport {
    /// The package root, found by walking up from this file to Package.swift.
    public static let packageRoot: URL = {
        var dir = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        while dir.path != "/" {
            if FileManager.default.fileExists(atPath: dir.appendingPathComponent("Package.swift").path) { return dir }
            dir.deleteLastPathComponent()
        }
        return URL(fileURLWithPath: FileManager.default.currentDirectoryPath)
    }()

    /// A new empty folder under the system's temporary directory.
    public static func temporaryDirectory(_ label: String = "test") -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("conviction-\(label)-\(UUID().uuidString.prefix(8))")
        try? FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }

    /// `.venv/bin/python` when `make setup` has run; nil otherwise (tests that need it skip).
    public static var python: String? {
        let path = packageRoot.appendingPathComponent(".venv/bin/python").path
        return FileManager.default.isExecutableFile(atPath: path) ? path : nil
    }

    /// True when `import` of every module succeeds in the project's Python.
    public static func pythonHas(_ modules: String...) -> Bool {
        guard let python else { return false }
        return (try? run(python, ["-c", "import " + modules.joined(separator: ", ")]))?.status == 0
    }

    /// The XGBoost library set-up installs, if present.
    public static var xgboostLibrary: String? {
        let lib = packageRoot.appendingPathComponent(".venv/lib")
        guard let pythons = try? FileManager.default.contentsOfDirectory(atPath: lib.path) else { return nil }
        for python in pythons where python.hasPrefix("python") {
            let candidate = lib.appendingPathComponent("\(python)/site-packages/xgboost/lib/libxgboost.so").path
            if FileManager.default.fileExists(atPath: candidate) { return candidate }
        }
        return nil
    }

    /// The plain local AWS stand-in `make test` starts (scripts/with-moto.sh); nil when tests run
    /// without it, and the tests that need it skip.
    public static var motoEndpoint: String? { ProcessInfo.processInfo.environment["CONVICTION_TEST_MOTO_ENDPOINT"] }

    /// The signature-checking stand-in and its IAM user's key.
    public static var motoAuth: (endpoint: String, keyID: String, secret: String)? {
        let env = ProcessInfo.processInfo.environment
        guard let e = env["CONVICTION_TEST_MOTO_AUTH_ENDPOINT"], let k = env["CONVICTION_TEST_MOTO_AUTH_KEY_ID"],
              let s = env["CONVICTION_TEST_MOTO_AUTH_SECRET"] else { return nil }
        return (e, k, s)
    }

    /// A bucket name no other test uses.
    public static func uniqueBucket(_ label: String) -> String { "\(label)-\(UUID().uuidString.prefix(8).lowercased())" }

    /// The `conviction` executable built beside the test bundle.
    public static var convictionBinary: URL {
        var dir = Bundle.main.bundleURL
        for _ in 0..<4 {
            let candidate = dir.appendingPathComponent("conviction")
            if FileManager.default.isExecutableFile(atPath: candidate.path) { return candidate }
            dir.deleteLastPathComponent()
        }
        return packageRoot.appendingPathComponent(".build/debug/conviction")
    }

    public struct ProcessResult: Sendable {
        public let status: Int32
        public let stdout: String
        public let stderr: String
    }

    /// Runs a program to completion; stdin is empty. A child still running after `timeout` seconds
    /// is killed, so a hung command fails its test instead of holding up the whole run.
    public static func run(_ executable: String, _ arguments: [String], in directory: URL? = nil,
                           environment: [String: String]? = nil, input: Data? = nil, timeout: Double = 900) throws -> ProcessResult {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        if let directory { process.currentDirectoryURL = directory }
        if let environment { process.environment = environment }
        let out = Pipe(), err = Pipe(), inPipe = Pipe()
        process.standardOutput = out
        process.standardError = err
        process.standardInput = inPipe
        try process.run()
        let deadline = killAfter(timeout, pid: process.processIdentifier)
        defer { deadline.cancel() }
        if let input { inPipe.fileHandleForWriting.write(input) }
        try inPipe.fileHandleForWriting.close()
        // Read both pipes concurrently so a chatty child cannot block on a full pipe.
        let errData = ErrorCollector(err.fileHandleForReading)
        let outData = out.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        var stderr = String(decoding: errData.wait(), as: UTF8.self)
        if process.terminationReason == .uncaughtSignal && process.terminationStatus == SIGKILL {
            stderr += "\n(killed: still running after \(Int(timeout)) s)"
        }
        return ProcessResult(status: process.terminationStatus, stdout: String(decoding: outData, as: UTF8.self), stderr: stderr)
    }

    /// `run` on a thread of its own, so a test that waits for a child process does not hold one of
    /// the two threads of the cooperative pool (on this machine) for as long as the child runs.
    public static func runOffPool(_ executable: String, _ arguments: [String], in directory: URL? = nil,
                                  environment: [String: String]? = nil, input: Data? = nil, timeout: Double = 900) async throws -> ProcessResult {
        try await withCheckedThrowingContinuation { continuation in
            Thread.detachNewThread {
                continuation.resume(with: Result { try run(executable, arguments, in: directory, environment: environment, input: input, timeout: timeout) })
            }
        }
    }

    /// `conviction` as in `conviction(_:environment:unset:)`, off the cooperative pool.
    /// Runs blocking work (polling child processes, sleeping) on a thread of its own, so it holds
    /// none of the cooperative pool's few threads.
    public static func offPool<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            Thread.detachNewThread { continuation.resume(with: Result { try body() }) }
        }
    }

    public static func convictionOffPool(_ arguments: [String], environment: [String: String] = [:], unset: [String] = []) async throws -> ProcessResult {
        var env = ProcessInfo.processInfo.environment
        for (k, v) in environment { env[k] = v }
        for k in unset { env[k] = nil }
        return try await runOffPool(convictionBinary.path, arguments, in: packageRoot, environment: env)
    }

    /// Sends SIGKILL to `pid` after `seconds` unless the returned deadline is cancelled first. The
    /// deadline waits on a thread of its own: a dispatch work item could be held up behind tests that
    /// block the shared queues, and a hung child would then outlive its deadline.
    static func killAfter(_ seconds: Double, pid: Int32) -> ProcessDeadline {
        let deadline = ProcessDeadline()
        Thread.detachNewThread {
            deadline.condition.lock()
            let end = Date().addingTimeInterval(seconds)
            while !deadline.cancelled && deadline.condition.wait(until: end) {}
            let fire = !deadline.cancelled
            deadline.condition.unlock()
            if fire { kill(pid, SIGKILL) }
        }
        return deadline
    }

    /// Runs `conviction` with the project root as working directory (so it finds .venv).
    /// Runs the `conviction` binary with this process's environment, plus `environment`, less `unset`.
    public static func conviction(_ arguments: [String], environment: [String: String] = [:], unset: [String] = []) throws -> ProcessResult {
        var env = ProcessInfo.processInfo.environment
        for (k, v) in environment { env[k] = v }
        for k in unset { env[k] = nil }
        return try run(convictionBinary.path, arguments, in: packageRoot, environment: env)
    }
}

/// Drains a pipe on a background thread.
final class ErrorCollector: @unchecked Sendable {  // data is written once by the thread, read after join
    private var data = Data()
    private let done = DispatchSemaphore(value: 0)

    init(_ handle: FileHandle) {
        Thread.detachNewThread { [self] in
            data = handle.readDataToEndOfFile()
            done.signal()
        }
    }

    func wait() -> Data {
        done.wait()
        return data
    }
}

/// A small protocol stand-in written in Python (stdlib `http.server`), started on a free loopback
/// port. The script must print its port on the first line of standard output. The server exits
/// when this object goes away, or when the test process does (its stdin closes).
public final class PythonServer: @unchecked Sendable {  // immutable after init
    let process = Process()
    public let port: Int

    public init(script: String, arguments: [String] = []) throws {
        let watchdog = "import threading, os, sys\nthreading.Thread(target=lambda: (sys.stdin.read(), os._exit(0)), daemon=True).start()\n"
        let out = Pipe()
        process.executableURL = URL(fileURLWithPath: TestSupport.python ?? "/usr/bin/python3")
        process.arguments = ["-c", watchdog + script] + arguments
        process.standardOutput = out
        process.standardError = FileHandle.nullDevice
        process.standardInput = Pipe()
        try process.run()
        // A script that never prints its port is killed after 60 s, which ends the read below.
        let deadline = TestSupport.killAfter(60, pid: process.processIdentifier)
        defer { deadline.cancel() }
        var line = Data()
        while !line.contains(0x0A) {
            let chunk = out.fileHandleForReading.availableData
            if chunk.isEmpty { break }
            line.append(chunk)
        }
        port = Int(String(decoding: line, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)) ?? 0
    }

    public var endpoint: String { "http://127.0.0.1:\(port)" }

    deinit {
        // SIGKILL without waiting: Foundation's waitUntilExit can block off the main thread on Linux.
        kill(process.processIdentifier, SIGKILL)
    }
}

/// A `conviction` command left running in the background, its output going to files so a test can
/// wait for a line, signal it (SIGTERM, SIGKILL) and wait for it to end.
public final class BackgroundCommand: @unchecked Sendable {  // process and paths fixed after init
    public let process = Process()
    public let stdoutPath: URL
    public let stderrPath: URL

    public init(_ arguments: [String], environment: [String: String] = [:], label: String = "cmd") throws {
        let dir = TestSupport.temporaryDirectory("bg-\(label)")
        stdoutPath = dir.appendingPathComponent("stdout")
        stderrPath = dir.appendingPathComponent("stderr")
        guard FileManager.default.createFile(atPath: stdoutPath.path, contents: nil),
              FileManager.default.createFile(atPath: stderrPath.path, contents: nil) else {
            throw CocoaError(.fileWriteUnknown, userInfo: [NSFilePathErrorKey: dir.path])
        }
        var env = ProcessInfo.processInfo.environment
        for (k, v) in environment { env[k] = v }
        process.executableURL = TestSupport.convictionBinary
        process.arguments = arguments
        process.currentDirectoryURL = TestSupport.packageRoot
        process.environment = env
        process.standardOutput = try FileHandle(forWritingTo: stdoutPath)
        process.standardError = try FileHandle(forWritingTo: stderrPath)
        process.standardInput = FileHandle.nullDevice
        try process.run()
    }

    public var stdout: String { (try? String(contentsOf: stdoutPath, encoding: .utf8)) ?? "" }
    public var stderr: String { (try? String(contentsOf: stderrPath, encoding: .utf8)) ?? "" }
    public var pid: Int32 { process.processIdentifier }

    /// Polls the output until `predicate` holds; false on timeout.
    public func waitFor(timeout: Double = 60, _ predicate: (BackgroundCommand) -> Bool) -> Bool {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            if predicate(self) { return true }
            Thread.sleep(forTimeInterval: 0.05)
        }
        return predicate(self)
    }

    public func signal(_ number: Int32) { kill(process.processIdentifier, number) }

    /// Waits for exit by polling (Process.waitUntilExit can hang off the main thread); nil on timeout.
    public func waitForExit(timeout: Double = 120) -> Int32? {
        let deadline = Date().addingTimeInterval(timeout)
        while process.isRunning && Date() < deadline { Thread.sleep(forTimeInterval: 0.05) }
        return process.isRunning ? nil : process.terminationStatus
    }

    deinit { if process.isRunning { kill(process.processIdentifier, SIGKILL) } }
}

/// A pending SIGKILL (`TestSupport.killAfter`).
public final class ProcessDeadline: @unchecked Sendable {  // `cancelled` is read and written under `condition`
    let condition = NSCondition()
    var cancelled = false

    public func cancel() {
        condition.lock()
        cancelled = true
        condition.signal()
        condition.unlock()
    }
}
