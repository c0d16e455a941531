import ConvictionCore
import Foundation
import Synchronization

/// The loaded ONNX Runtime library and its one process-wide environment (ORT wants one `OrtEnv`).
public final class ORTRuntime: @unchecked Sendable {  // the env and table are immutable; ORT's env is thread-safe
    let api: ORTAPI
    let env: OpaquePointer
    let cpuMemory: OpaquePointer
    public var version: String { api.version }
    public var path: String { api.path }

    private static let cache = Mutex<[String: ORTRuntime]>([:])

    /// Loads (once per path) the library at `explicit`, `CONVICTION_ONNXRUNTIME_LIB`, or the project's
    /// `.venv` (the PyPI `onnxruntime` wheel that `make setup` installs).
    public static func load(explicit: String? = nil) throws -> ORTRuntime {
        let path = try locate(explicit: explicit)
        return try cache.withLock { cache in
            if let runtime = cache[path] { return runtime }
            let runtime = try ORTRuntime(api: ORTAPI(path: path))
            cache[path] = runtime
            return runtime
        }
    }

    static func locate(explicit: String?) throws -> String {
        if let explicit, !explicit.isEmpty { return explicit }
        if let env = ProcessInfo.processInfo.environment["CONVICTION_ONNXRUNTIME_LIB"], !env.isEmpty { return env }
        // A release's own lib/ first, then the checkout's .venv.
        for folder in [ProjectFiles.bundled("lib"), ProjectFiles.findInVirtualEnvironment("onnxruntime/capi")].compactMap({ $0 }) {
            if let name = (try? FileManager.default.contentsOfDirectory(atPath: folder))?.filter({ $0.hasPrefix("libonnxruntime.so") }).sorted().last {
                return folder + "/" + name
            }
        }
        throw ORTError(call: "load", code: nil, message: "libonnxruntime.so not found: run `make setup` (installs the onnxruntime wheel into .venv), or set CONVICTION_ONNXRUNTIME_LIB or scoring.onnxruntime_library")
    }

    init(api: ORTAPI) throws {
        self.api = api
        var env: OpaquePointer?
        try api.check(api.createEnv(ORTAPI.loggingError, "conviction", &env), "CreateEnv")
        var memory: OpaquePointer?
        do {
            try api.check(api.createCpuMemoryInfo(ORTAPI.allocatorArena, ORTAPI.memTypeDefault, &memory), "CreateCpuMemoryInfo")
        } catch {
            api.releaseEnv(env)
            throw error
        }
        self.env = env!
        self.cpuMemory = memory!
    }

    deinit {
        api.releaseMemoryInfo(cpuMemory)
        api.releaseEnv(env)
    }

    /// Builds a status the way ORT does and reads it back: exercises the error path end to end.
    func roundTripError(code: Int32, message: String) -> ORTError? {
        let status = api.createStatus(code, message)
        do { try api.check(status, "CreateStatus"); return nil } catch let error as ORTError { return error } catch { return nil }
    }
}

/// How a session runs: threads, graph optimisation and spinning.
public struct ORTSessionOptions: Sendable, Hashable {
    public enum GraphOptimization: String, Sendable, CaseIterable {
        case disabled, basic, extended, all
        var level: Int32 { switch self { case .disabled: 0; case .basic: 1; case .extended: 2; case .all: 99 } }
    }
    /// Threads inside one operator (0 = ORT's default, one per core).
    public var intraOpThreads: Int
    public var interOpThreads: Int
    public var optimization: GraphOptimization
    /// Busy-wait between operators; off is kinder to a shared machine.
    public var allowSpinning: Bool
    /// Further `session.*` entries, e.g. `session.load_model_format`.
    public var configEntries: [String: String]

    public init(intraOpThreads: Int = 0, interOpThreads: Int = 1, optimization: GraphOptimization = .all, allowSpinning: Bool = false,
                configEntries: [String: String] = [:]) {
        self.intraOpThreads = intraOpThreads; self.interOpThreads = interOpThreads
        self.optimization = optimization; self.allowSpinning = allowSpinning; self.configEntries = configEntries
    }
}

/// A float tensor that came out of a session.
public struct ORTOutput: Sendable {
    public let shape: [Int]
    public let values: [Float]
}

/// One loaded model. `Run` is thread-safe in ORT, so one session serves concurrent callers.
public final class ORTSession: @unchecked Sendable {  // the OrtSession handle is immutable and thread-safe
    public let runtime: ORTRuntime
    public let modelPath: String
    public let inputNames: [String]
    public let outputNames: [String]
    let handle: OpaquePointer

    public init(runtime: ORTRuntime, modelPath: String, options: ORTSessionOptions = .init()) throws {
        let api = runtime.api
        self.runtime = runtime
        self.modelPath = modelPath
        var opts: OpaquePointer?
        try api.check(api.createSessionOptions(&opts), "CreateSessionOptions")
        defer { api.releaseSessionOptions(opts) }
        try api.check(api.setIntraOpNumThreads(opts, Int32(options.intraOpThreads)), "SetIntraOpNumThreads")
        try api.check(api.setInterOpNumThreads(opts, Int32(options.interOpThreads)), "SetInterOpNumThreads")
        try api.check(api.setGraphOptimizationLevel(opts, options.optimization.level), "SetSessionGraphOptimizationLevel")
        var entries = options.configEntries
        entries["session.intra_op.allow_spinning"] = options.allowSpinning ? "1" : "0"
        entries["session.inter_op.allow_spinning"] = options.allowSpinning ? "1" : "0"
        for (key, value) in entries.sorted(by: { $0.key < $1.key }) {
            try api.check(api.addSessionConfigEntry(opts, key, value), "AddSessionConfigEntry(\(key))")
        }
        var session: OpaquePointer?
        do {
            try api.check(api.createSession(runtime.env, modelPath, opts, &session), "CreateSession(\(modelPath))")
        }
        guard let session else { throw ORTError(call: "CreateSession", code: nil, message: "no session for \(modelPath)") }
        handle = session
        do {
            inputNames = try Self.names(api, session, count: api.sessionGetInputCount, name: api.sessionGetInputName, "Input")
            outputNames = try Self.names(api, session, count: api.sessionGetOutputCount, name: api.sessionGetOutputName, "Output")
        } catch {
            api.releaseSession(session)
            throw error
        }
    }

    deinit { runtime.api.releaseSession(handle) }

    private static func names(_ api: ORTAPI, _ session: OpaquePointer, count: ORTAPI.GetCount, name: ORTAPI.GetName, _ kind: String) throws -> [String] {
        var allocator: OpaquePointer?
        try api.check(api.getAllocatorWithDefaultOptions(&allocator), "GetAllocatorWithDefaultOptions")
        var n = 0
        try api.check(count(session, &n), "SessionGet\(kind)Count")
        return try (0..<n).map { i in
            var cName: UnsafeMutablePointer<CChar>?
            try api.check(name(session, i, allocator, &cName), "SessionGet\(kind)Name")
            defer { _ = try? api.check(api.allocatorFree(allocator, cName), "AllocatorFree") }
            return cName.map { String(cString: $0) } ?? ""
        }
    }

    /// Runs the model on int64 inputs of one shape (e.g. `[batch, sequence]`) and returns the named
    /// float outputs. Inputs are fed by name; a name the model does not have is an error from ORT.
    public func run(int64Inputs: [(name: String, values: [Int64])], shape: [Int], outputs wanted: [String]) throws -> [ORTOutput] {
        let api = runtime.api
        let count = shape.reduce(1, *)
        var values: [OpaquePointer?] = []
        var buffers: [UnsafeMutableBufferPointer<Int64>] = []
        defer {
            for v in values { api.releaseValue(v) }
            for b in buffers { b.deallocate() }
        }
        let dims = shape.map(Int64.init)
        for input in int64Inputs {
            precondition(input.values.count == count, "input \(input.name) has \(input.values.count) values for shape \(shape)")
            // ORT reads the caller's memory during Run: keep our own buffer alive until the defer.
            let buffer = UnsafeMutableBufferPointer<Int64>.allocate(capacity: count)
            _ = buffer.initialize(from: input.values)
            buffers.append(buffer)
            var value: OpaquePointer?
            try dims.withUnsafeBufferPointer { d in
                try api.check(api.createTensorWithData(runtime.cpuMemory, UnsafeMutableRawPointer(buffer.baseAddress), count * 8,
                                                       d.baseAddress, d.count, ORTAPI.elementInt64, &value), "CreateTensorWithDataAsOrtValue(\(input.name))")
            }
            values.append(value)
        }
        var results = [OpaquePointer?](repeating: nil, count: wanted.count)
        defer { for r in results { api.releaseValue(r) } }
        try withCStrings(int64Inputs.map(\.name)) { inNames in
            try withCStrings(wanted) { outNames in
                try api.check(api.run(handle, nil, inNames, values, values.count, outNames, wanted.count, &results), "Run")
            }
        }
        return try zip(wanted, results).map { name, value in try Self.floatTensor(api, value, name) }
    }

    private static func floatTensor(_ api: ORTAPI, _ value: OpaquePointer?, _ name: String) throws -> ORTOutput {
        var info: OpaquePointer?
        try api.check(api.getTensorTypeAndShape(value, &info), "GetTensorTypeAndShape(\(name))")
        defer { api.releaseTensorTypeAndShapeInfo(info) }
        var type: Int32 = 0
        try api.check(api.getTensorElementType(info, &type), "GetTensorElementType(\(name))")
        guard type == ORTAPI.elementFloat else {
            throw ORTError(call: "Run", code: nil, message: "output \(name) has element type \(type), expected float (1)")
        }
        var rank = 0
        try api.check(api.getDimensionsCount(info, &rank), "GetDimensionsCount(\(name))")
        var dims = [Int64](repeating: 0, count: rank)
        try api.check(api.getDimensions(info, &dims, rank), "GetDimensions(\(name))")
        var data: UnsafeMutableRawPointer?
        try api.check(api.getTensorMutableData(value, &data), "GetTensorMutableData(\(name))")
        let shape = dims.map { Int($0) }
        let n = shape.reduce(1, *)
        let floats = data.map { Array(UnsafeBufferPointer(start: $0.assumingMemoryBound(to: Float.self), count: n)) } ?? []
        return ORTOutput(shape: shape, values: floats)
    }
}

/// Calls `body` with a C array of C strings that stay valid for the call.
func withCStrings<R>(_ strings: [String], _ body: (UnsafePointer<UnsafePointer<CChar>?>) throws -> R) rethrows -> R {
    let copies = strings.map { strdup($0) }
    defer { copies.forEach { free($0) } }
    let pointers = copies.map { UnsafePointer<CChar>($0) }
    return try pointers.withUnsafeBufferPointer { try body($0.baseAddress!) }
}
