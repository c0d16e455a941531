import Foundation

/// How the process asks glibc's allocator to behave, set once at start (the `conviction` command
/// and the benchmarks). A long replay allocates blocks of 256 KiB to a few MiB on several threads for
/// hours; with glibc's defaults (an arena per thread, and a threshold for mapping blocks directly that
/// rises to 32 MiB as blocks are freed) freed blocks stay in the arenas and the resident set creeps
/// up with the run's length. Two arenas and a fixed 256 KiB threshold give freed blocks back to the
/// system: replay's peak on a 10x archive went from 1.28x that on the 1x archive to 1.08x
/// (docs/benchmarks.md). `MALLOC_ARENA_MAX` or `MALLOC_MMAP_THRESHOLD_` in the environment win.
public enum MemoryTuning {
    typealias Mallopt = @convention(c) (Int32, Int32) -> Int32
    static let M_MMAP_THRESHOLD: Int32 = -3
    static let M_ARENA_MAX: Int32 = -8

    public static func apply(environment: [String: String] = ProcessInfo.processInfo.environment) {
        #if os(Linux)
        guard let symbol = dlsym(nil, "mallopt") else { return }
        let mallopt = unsafeBitCast(symbol, to: Mallopt.self)
        if environment["MALLOC_ARENA_MAX"] == nil { _ = mallopt(M_ARENA_MAX, 2) }
        if environment["MALLOC_MMAP_THRESHOLD_"] == nil { _ = mallopt(M_MMAP_THRESHOLD, 256 << 10) }
        #endif
    }
}
