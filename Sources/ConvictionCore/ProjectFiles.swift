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

extension ProjectFiles {
    /// The git commit of the checkout the program runs in (read from `.git`, no git process), with
    /// `-dirty` never claimed: nil outside a checkout.
    public static func gitCommit() -> String? {
        guard let head = find(".git/HEAD"), let text = try? String(contentsOfFile: head, encoding: .utf8) else { return nil }
        let line = text.trimmingCharacters(in: .whitespacesAndNewlines)
        guard line.hasPrefix("ref: ") else { return line.count == 40 ? line : nil }
        let ref = String(line.dropFirst(5))
        let gitDir = (head as NSString).deletingLastPathComponent
        if let commit = try? String(contentsOfFile: gitDir + "/" + ref, encoding: .utf8) {
            return commit.trimmingCharacters(in: .whitespacesAndNewlines)
        }
        // Packed refs: "<sha> <ref>" lines.
        guard let packed = try? String(contentsOfFile: gitDir + "/packed-refs", encoding: .utf8) else { return nil }
        return packed.split(separator: "\n").first { $0.hasSuffix(" " + ref) }.map { String($0.prefix(40)) }
    }
}
