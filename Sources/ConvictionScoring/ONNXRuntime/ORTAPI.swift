import ConvictionCore
import Foundation

/// The ONNX Runtime C API, loaded at run time with `dlopen` (no vendor header: the declarations are
/// ours). `OrtGetApiBase()` hands out `OrtApi`, a struct of function pointers in which entry *i* is the
/// *i*-th pointer; the version-1 block (0...101) is frozen upstream and later versions only append.
/// Every index and signature this project uses lives in this file, and each is exercised by a test:
/// a wrong index is undefined behaviour, not a compile error.
final class ORTAPI: @unchecked Sendable {  // immutable after init: a table of C function pointers
    /// The `OrtApi` version requested; 16 (ONNX Runtime 1.16) has every entry below.
    static let requestedVersion: UInt32 = 16

    enum Entry: Int, CaseIterable {
        case createStatus = 0, getErrorCode = 1, getErrorMessage = 2, createEnv = 3
        case createSession = 7, run = 9, createSessionOptions = 10
        case setSessionGraphOptimizationLevel = 23, setIntraOpNumThreads = 24, setInterOpNumThreads = 25
        case sessionGetInputCount = 30, sessionGetOutputCount = 31, sessionGetInputName = 36, sessionGetOutputName = 37
        case createTensorWithDataAsOrtValue = 49, getTensorMutableData = 51
        case getTensorElementType = 60, getDimensionsCount = 61, getDimensions = 62, getTensorTypeAndShape = 65
        case createCpuMemoryInfo = 69, allocatorFree = 76, getAllocatorWithDefaultOptions = 78
        case releaseEnv = 92, releaseStatus = 93, releaseMemoryInfo = 94, releaseSession = 95, releaseValue = 96
        case releaseTensorTypeAndShapeInfo = 99, releaseSessionOptions = 100
        /// Version 5: after GetStringTensorElementLength (127), GetStringTensorElement, FillStringTensorElement.
        case addSessionConfigEntry = 130
    }

    typealias Status = OpaquePointer  // OrtStatus*; NULL means success
    typealias Ptr = OpaquePointer
    typealias CreateStatus = @convention(c) (Int32, UnsafePointer<CChar>?) -> Status?
    typealias GetErrorCode = @convention(c) (Status?) -> Int32
    typealias GetErrorMessage = @convention(c) (Status?) -> UnsafePointer<CChar>?
    typealias CreateEnv = @convention(c) (Int32, UnsafePointer<CChar>?, UnsafeMutablePointer<Ptr?>?) -> Status?
    typealias CreateSession = @convention(c) (Ptr?, UnsafePointer<CChar>?, Ptr?, UnsafeMutablePointer<Ptr?>?) -> Status?
    typealias Run = @convention(c) (Ptr?, Ptr?, UnsafePointer<UnsafePointer<CChar>?>?, UnsafePointer<Ptr?>?, Int,
                                    UnsafePointer<UnsafePointer<CChar>?>?, Int, UnsafeMutablePointer<Ptr?>?) -> Status?
    typealias CreateOptions = @convention(c) (UnsafeMutablePointer<Ptr?>?) -> Status?
    typealias SetInt = @convention(c) (Ptr?, Int32) -> Status?
    typealias GetCount = @convention(c) (Ptr?, UnsafeMutablePointer<Int>?) -> Status?
    typealias GetName = @convention(c) (Ptr?, Int, Ptr?, UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> Status?
    typealias CreateTensorWithData = @convention(c) (Ptr?, UnsafeMutableRawPointer?, Int, UnsafePointer<Int64>?, Int, Int32,
                                                     UnsafeMutablePointer<Ptr?>?) -> Status?
    typealias GetMutableData = @convention(c) (Ptr?, UnsafeMutablePointer<UnsafeMutableRawPointer?>?) -> Status?
    typealias GetElementType = @convention(c) (Ptr?, UnsafeMutablePointer<Int32>?) -> Status?
    typealias GetDimensionsCount = @convention(c) (Ptr?, UnsafeMutablePointer<Int>?) -> Status?
    typealias GetDimensions = @convention(c) (Ptr?, UnsafeMutablePointer<Int64>?, Int) -> Status?
    typealias GetTypeAndShape = @convention(c) (Ptr?, UnsafeMutablePointer<Ptr?>?) -> Status?
    typealias CreateCpuMemoryInfo = @convention(c) (Int32, Int32, UnsafeMutablePointer<Ptr?>?) -> Status?
    typealias AllocatorFree = @convention(c) (Ptr?, UnsafeMutableRawPointer?) -> Status?
    typealias GetAllocator = @convention(c) (UnsafeMutablePointer<Ptr?>?) -> Status?
    typealias Release = @convention(c) (Ptr?) -> Void
    typealias AddConfigEntry = @convention(c) (Ptr?, UnsafePointer<CChar>?, UnsafePointer<CChar>?) -> Status?

    // Enum values from the public header.
    static let loggingError: Int32 = 3
    static let allocatorArena: Int32 = 1
    static let memTypeDefault: Int32 = 0
    static let elementFloat: Int32 = 1
    static let elementInt64: Int32 = 7

    let path: String
    let version: String
    private let table: UnsafePointer<UnsafeRawPointer?>

    let createStatus: CreateStatus, getErrorCode: GetErrorCode, getErrorMessage: GetErrorMessage
    let createEnv: CreateEnv, createSession: CreateSession, run: Run, createSessionOptions: CreateOptions
    let setGraphOptimizationLevel: SetInt, setIntraOpNumThreads: SetInt, setInterOpNumThreads: SetInt
    let sessionGetInputCount: GetCount, sessionGetOutputCount: GetCount
    let sessionGetInputName: GetName, sessionGetOutputName: GetName
    let createTensorWithData: CreateTensorWithData, getTensorMutableData: GetMutableData
    let getTensorElementType: GetElementType, getDimensionsCount: GetDimensionsCount, getDimensions: GetDimensions
    let getTensorTypeAndShape: GetTypeAndShape, createCpuMemoryInfo: CreateCpuMemoryInfo
    let allocatorFree: AllocatorFree, getAllocatorWithDefaultOptions: GetAllocator
    let releaseEnv: Release, releaseStatus: Release, releaseMemoryInfo: Release, releaseSession: Release
    let releaseValue: Release, releaseTensorTypeAndShapeInfo: Release, releaseSessionOptions: Release
    let addSessionConfigEntry: AddConfigEntry

    init(path: String) throws {
        guard let handle = dlopen(path, RTLD_NOW | RTLD_LOCAL) else {
            throw ORTError(call: "dlopen", code: nil, message: "cannot load \(path): \(dlerror().map { String(cString: $0) } ?? "unknown dlopen error")")
        }
        guard let baseSymbol = dlsym(handle, "OrtGetApiBase") else {
            throw ORTError(call: "dlsym", code: nil, message: "\(path) has no symbol OrtGetApiBase: not an ONNX Runtime library")
        }
        // struct OrtApiBase { const OrtApi* (*GetApi)(uint32_t); const char* (*GetVersionString)(void); }
        let getApiBase = unsafeBitCast(baseSymbol, to: (@convention(c) () -> UnsafeRawPointer?).self)
        guard let base = getApiBase()?.assumingMemoryBound(to: UnsafeRawPointer?.self), let getApiPointer = base[0], let versionPointer = base[1] else {
            throw ORTError(call: "OrtGetApiBase", code: nil, message: "\(path) returned no API base")
        }
        let getVersion = unsafeBitCast(versionPointer, to: (@convention(c) () -> UnsafePointer<CChar>?).self)
        let version = getVersion().map { String(cString: $0) } ?? "unknown"
        let getApi = unsafeBitCast(getApiPointer, to: (@convention(c) (UInt32) -> UnsafeRawPointer?).self)
        guard let api = getApi(Self.requestedVersion) else {
            throw ORTError(call: "GetApi", code: nil, message: "ONNX Runtime \(version) at \(path) does not offer API version \(Self.requestedVersion) (1.16 or newer is needed)")
        }
        let table = api.assumingMemoryBound(to: UnsafeRawPointer?.self)
        func entry<T>(_ e: Entry, _ type: T.Type) throws -> T {
            guard let p = table[e.rawValue] else {
                throw ORTError(call: "GetApi", code: nil, message: "OrtApi entry \(e.rawValue) (\(e)) is empty in \(path)")
            }
            return unsafeBitCast(p, to: type)
        }
        self.path = path; self.version = version; self.table = table
        createStatus = try entry(.createStatus, CreateStatus.self)
        getErrorCode = try entry(.getErrorCode, GetErrorCode.self)
        getErrorMessage = try entry(.getErrorMessage, GetErrorMessage.self)
        createEnv = try entry(.createEnv, CreateEnv.self)
        createSession = try entry(.createSession, CreateSession.self)
        run = try entry(.run, Run.self)
        createSessionOptions = try entry(.createSessionOptions, CreateOptions.self)
        setGraphOptimizationLevel = try entry(.setSessionGraphOptimizationLevel, SetInt.self)
        setIntraOpNumThreads = try entry(.setIntraOpNumThreads, SetInt.self)
        setInterOpNumThreads = try entry(.setInterOpNumThreads, SetInt.self)
        sessionGetInputCount = try entry(.sessionGetInputCount, GetCount.self)
        sessionGetOutputCount = try entry(.sessionGetOutputCount, GetCount.self)
        sessionGetInputName = try entry(.sessionGetInputName, GetName.self)
        sessionGetOutputName = try entry(.sessionGetOutputName, GetName.self)
        createTensorWithData = try entry(.createTensorWithDataAsOrtValue, CreateTensorWithData.self)
        getTensorMutableData = try entry(.getTensorMutableData, GetMutableData.self)
        getTensorElementType = try entry(.getTensorElementType, GetElementType.self)
        getDimensionsCount = try entry(.getDimensionsCount, GetDimensionsCount.self)
        getDimensions = try entry(.getDimensions, GetDimensions.self)
        getTensorTypeAndShape = try entry(.getTensorTypeAndShape, GetTypeAndShape.self)
        createCpuMemoryInfo = try entry(.createCpuMemoryInfo, CreateCpuMemoryInfo.self)
        allocatorFree = try entry(.allocatorFree, AllocatorFree.self)
        getAllocatorWithDefaultOptions = try entry(.getAllocatorWithDefaultOptions, GetAllocator.self)
        releaseEnv = try entry(.releaseEnv, Release.self)
        releaseStatus = try entry(.releaseStatus, Release.self)
        releaseMemoryInfo = try entry(.releaseMemoryInfo, Release.self)
        releaseSession = try entry(.releaseSession, Release.self)
        releaseValue = try entry(.releaseValue, Release.self)
        releaseTensorTypeAndShapeInfo = try entry(.releaseTensorTypeAndShapeInfo, Release.self)
        releaseSessionOptions = try entry(.releaseSessionOptions, Release.self)
        addSessionConfigEntry = try entry(.addSessionConfigEntry, AddConfigEntry.self)
    }

    /// Turns a non-NULL status into an `ORTError` carrying ONNX Runtime's code and message, and frees it.
    func check(_ status: Status?, _ call: String) throws {
        guard let status else { return }
        let code = getErrorCode(status)
        let message = getErrorMessage(status).map { String(cString: $0) } ?? "no message"
        releaseStatus(status)
        throw ORTError(call: call, code: code, message: message)
    }
}

/// An ONNX Runtime failure: the call that failed, ORT's error code and its own message.
public struct ORTError: ConvictionError {
    public var errorCode: ErrorCode { .nativeLibrary }
    public let call: String
    /// `OrtErrorCode`: 1 FAIL, 2 INVALID_ARGUMENT, 3 NO_SUCHFILE, 4 NO_MODEL, 5 ENGINE_ERROR,
    /// 6 RUNTIME_EXCEPTION, 7 INVALID_PROTOBUF, 8 MODEL_LOADED, 9 NOT_IMPLEMENTED, 10 INVALID_GRAPH.
    public let code: Int32?
    public let message: String
    public var description: String { "ONNX Runtime \(call) failed: \(message)" }
}
