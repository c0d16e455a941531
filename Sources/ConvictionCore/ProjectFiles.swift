import Foundation

/// Finds project-local files that `make setup` puts in git-ignored folders (`.venv` native
/// libraries, `.models` model folders): searched upwards from the working directory, then from the
/// executable's folder, so both `swift run` in the repository and an installed build inside it work.
public enum ProjectFiles {
    static func roots() -> [URL] {
        var roots: [URL] = []
        let starts = [URL(fileURLWithPath: FileManager.default.currentDirectoryPath),
                      URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath().deletingLastPathComponent()]
        for start in starts {
            var dir = start.standardizedFileURL
            for _ in 0..<8 {
                if !roots.contains(dir) { roots.append(dir) }
                if dir.path == "/" { break }
                dir.deleteLastPathComponent()
            }
        }
        return roots
    }

    /// The first `<root>/<relativePath>` that exists.
    public static func find(_ relativePath: String) -> String? {
        for root in roots() {
            let candidate = root.appendingPathComponent(relativePath).path
            if FileManager.default.fileExists(atPath: candidate) { return candidate }
        }
        return nil
    }

    /// The first `<root>/.venv/lib/python*/site-packages/<relativePath>` that exists.
    public static func findInVirtualEnvironment(_ relativePath: String) -> String? {
        for root in roots() {
            let lib = root.appendingPathComponent(".venv/lib")
            guard let pythons = try? FileManager.default.contentsOfDirectory(atPath: lib.path) else { continue }
            for python in pythons.sorted() where python.hasPrefix("python") {
                let candidate = lib.appendingPathComponent("\(python)/site-packages/\(relativePath)").path
                if FileManager.default.fileExists(atPath: candidate) { return candidate }
            }
        }
        return nil
    }
}
