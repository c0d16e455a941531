import Foundation

/// Zstandard decompression for Parquet pages (polars writes zstd by default), through libzstd's C
/// API loaded at run time: `libzstd.so.1` is part of every Debian system (apt and dpkg need it), so
/// building needs no headers and a release needs nothing more. Only one-shot decompression of a
/// frame into a buffer of the size the page header gives is needed.
enum Zstd {
    typealias Decompress = @convention(c) (UnsafeMutableRawPointer?, Int, UnsafeRawPointer?, Int) -> Int
    typealias IsError = @convention(c) (Int) -> UInt32
    typealias ErrorName = @convention(c) (Int) -> UnsafePointer<CChar>?

    struct Library: @unchecked Sendable {  // function pointers only, set once
        let decompress: Decompress
        let isError: IsError
        let errorName: ErrorName
    }

    /// The library, or why it could not be loaded.
    static let library: Result<Library, ParquetFailure> = {
        for name in ["libzstd.so.1", "libzstd.so"] {
            guard let handle = dlopen(name, RTLD_NOW | RTLD_LOCAL) else { continue }
            guard let d = dlsym(handle, "ZSTD_decompress"), let e = dlsym(handle, "ZSTD_isError"), let n = dlsym(handle, "ZSTD_getErrorName") else {
                return .failure(ParquetFailure("\(name) lacks ZSTD_decompress, ZSTD_isError or ZSTD_getErrorName"))
            }
            return .success(Library(decompress: unsafeBitCast(d, to: Decompress.self), isError: unsafeBitCast(e, to: IsError.self),
                                    errorName: unsafeBitCast(n, to: ErrorName.self)))
        }
        return .failure(ParquetFailure("zstd-compressed pages need libzstd.so.1 (Debian package libzstd1), which could not be loaded: \(dlerror().map { String(cString: $0) } ?? "not found")"))
    }()

    /// Decompresses one frame into `output`, which holds exactly `size` bytes.
    static func decompress(_ input: UnsafeRawBufferPointer, into output: UnsafeMutablePointer<UInt8>, size: Int) throws {
        let zstd = try library.get()
        let written = zstd.decompress(output, size, input.baseAddress, input.count)
        guard zstd.isError(written) == 0 else {
            throw ParquetFailure("zstd: \(zstd.errorName(written).map { String(cString: $0) } ?? "error \(written)")")
        }
        guard written == size else { throw ParquetFailure("page holds \(written) bytes after decompression, header says \(size)") }
    }
}
