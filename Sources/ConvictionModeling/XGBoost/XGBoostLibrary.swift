import ConvictionCore
import Foundation

/// The XGBoost C API, loaded at run time with `dlopen` from `libxgboost.so` (the PyPI
/// `xgboost-cpu` wheel's, installed by `make` into `.venv`, or a path you name). Loading at run time
/// avoids linking against whichever copy the linker finds first, and lets Conviction run (and say
/// clearly what is missing) where XGBoost is absent. The declarations below are ours, written from
/// XGBoost's documented `c_api.h`.
public final class XGBoostLibrary: @unchecked Sendable {  // immutable after init: function pointers only
    typealias Handle = UnsafeMutableRawPointer
    typealias GetLastError = @convention(c) () -> UnsafePointer<CChar>?
    typealias Version = @convention(c) (UnsafeMutablePointer<Int32>?, UnsafeMutablePointer<Int32>?, UnsafeMutablePointer<Int32>?) -> Void
    typealias DMatrixCreateFromMat = @convention(c) (UnsafePointer<Float>?, UInt64, UInt64, Float, UnsafeMutablePointer<Handle?>?) -> Int32
    typealias DMatrixSetFloatInfo = @convention(c) (Handle?, UnsafePointer<CChar>?, UnsafePointer<Float>?, UInt64) -> Int32
    typealias Free = @convention(c) (Handle?) -> Int32
    typealias BoosterCreate = @convention(c) (UnsafePointer<Handle?>?, UInt64, UnsafeMutablePointer<Handle?>?) -> Int32
    typealias BoosterSetParam = @convention(c) (Handle?, UnsafePointer<CChar>?, UnsafePointer<CChar>?) -> Int32
    typealias BoosterUpdateOneIter = @convention(c) (Handle?, Int32, Handle?) -> Int32
    typealias BoosterFile = @convention(c) (Handle?, UnsafePointer<CChar>?) -> Int32
    typealias BoosterBoostedRounds = @convention(c) (Handle?, UnsafeMutablePointer<Int32>?) -> Int32
    typealias BoosterFeatureScore = @convention(c) (
        Handle?, UnsafePointer<CChar>?, UnsafeMutablePointer<UInt64>?, UnsafeMutablePointer<UnsafePointer<UnsafePointer<CChar>?>?>?,
        UnsafeMutablePointer<UInt64>?, UnsafeMutablePointer<UnsafePointer<UInt64>?>?, UnsafeMutablePointer<UnsafePointer<Float>?>?) -> Int32
    typealias BoosterPredictFromDMatrix = @convention(c) (
        Handle?, Handle?, UnsafePointer<CChar>?, UnsafeMutablePointer<UnsafePointer<UInt64>?>?, UnsafeMutablePointer<UInt64>?,
        UnsafeMutablePointer<UnsafePointer<Float>?>?) -> Int32

    let getLastError: GetLastError
    let version: Version
    let dmatrixCreateFromMat: DMatrixCreateFromMat
    let dmatrixSetFloatInfo: DMatrixSetFloatInfo
    let dmatrixFree: Free
    let boosterCreate: BoosterCreate
    let boosterSetParam: BoosterSetParam
    let boosterUpdateOneIter: BoosterUpdateOneIter
    let boosterPredictFromDMatrix: BoosterPredictFromDMatrix
    let boosterFree: Free
    let boosterSaveModel: BoosterFile
    let boosterLoadModel: BoosterFile
    let boosterFeatureScore: BoosterFeatureScore
    let boosterBoostedRounds: BoosterBoostedRounds
    public let path: String

    public init(path: String) throws {
        guard let handle = dlopen(path, RTLD_NOW | RTLD_LOCAL) else {
            throw XGBoostError(message: "cannot load \(path): \(dlerror().map { String(cString: $0) } ?? "unknown dlopen error")")
        }
        func symbol<T>(_ name: String, as type: T.Type) throws -> T {
            guard let pointer = dlsym(handle, name) else { throw XGBoostError(message: "\(path) has no symbol \(name)") }
            return unsafeBitCast(pointer, to: type)
        }
        self.path = path
        getLastError = try symbol("XGBGetLastError", as: GetLastError.self)
        version = try symbol("XGBoostVersion", as: Version.self)
        dmatrixCreateFromMat = try symbol("XGDMatrixCreateFromMat", as: DMatrixCreateFromMat.self)
        dmatrixSetFloatInfo = try symbol("XGDMatrixSetFloatInfo", as: DMatrixSetFloatInfo.self)
        dmatrixFree = try symbol("XGDMatrixFree", as: Free.self)
        boosterCreate = try symbol("XGBoosterCreate", as: BoosterCreate.self)
        boosterSetParam = try symbol("XGBoosterSetParam", as: BoosterSetParam.self)
        boosterUpdateOneIter = try symbol("XGBoosterUpdateOneIter", as: BoosterUpdateOneIter.self)
        boosterPredictFromDMatrix = try symbol("XGBoosterPredictFromDMatrix", as: BoosterPredictFromDMatrix.self)
        boosterFree = try symbol("XGBoosterFree", as: Free.self)
        boosterSaveModel = try symbol("XGBoosterSaveModel", as: BoosterFile.self)
        boosterLoadModel = try symbol("XGBoosterLoadModel", as: BoosterFile.self)
        boosterFeatureScore = try symbol("XGBoosterFeatureScore", as: BoosterFeatureScore.self)
        boosterBoostedRounds = try symbol("XGBoosterBoostedRounds", as: BoosterBoostedRounds.self)
    }

    public var versionString: String {
        var major: Int32 = 0, minor: Int32 = 0, patch: Int32 = 0
        version(&major, &minor, &patch)
        return "\(major).\(minor).\(patch)"
    }

    /// Turns a non-zero status into an error carrying XGBoost's own message.
    func check(_ status: Int32, _ call: String) throws {
        guard status != 0 else { return }
        let message = getLastError().map { String(cString: $0) } ?? "no message"
        throw XGBoostError(message: "\(call) failed: \(message)")
    }

    /// Finds `libxgboost.so`: an explicit path, `CONVICTION_XGBOOST_LIB`, a release's own `lib/`,
    /// the project's `.venv` (searched from the working directory and from the executable upwards),
    /// then the system.
    public static func locate(explicit: String? = nil) throws -> XGBoostLibrary {
        if let explicit, !explicit.isEmpty { return try XGBoostLibrary(path: explicit) }
        if let env = ProcessInfo.processInfo.environment["CONVICTION_XGBOOST_LIB"], !env.isEmpty { return try XGBoostLibrary(path: env) }
        if let found = ProjectFiles.bundled("lib/libxgboost.so") ?? ProjectFiles.findInVirtualEnvironment("xgboost/lib/libxgboost.so") {
            return try XGBoostLibrary(path: found)
        }
        for candidate in ["libxgboost.so", "/usr/lib/x86_64-linux-gnu/libxgboost.so", "/usr/local/lib/libxgboost.so"] {
            if let library = try? XGBoostLibrary(path: candidate) { return library }
        }
        throw XGBoostError(message: "libxgboost.so not found: run `make setup` (installs xgboost-cpu into .venv), or set CONVICTION_XGBOOST_LIB or training.xgboost_library")
    }
}

public struct XGBoostError: ConvictionError {
    public var errorCode: ErrorCode { .nativeLibrary }
    public let message: String
    public var description: String { "XGBoost: \(message)" }
}
