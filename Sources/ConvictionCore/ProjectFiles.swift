import Foundation

/// Finds the files Conviction needs beside its code: in a release (`make dist`), the libraries and
/// model shipped next to the binary (`bundled`); in a checkout, what `make setup` puts in git-ignored
/// folders (`.venv` native libraries, `.models` model folders), searched upwards from the working
/// directory, then from the executable's folder.
public enum ProjectFiles {
    /// The folder holding the running executable (`/proc/self/exe`, so a symlink on PATH still
    /// leads to the release's own folder).
    public static var executableDirectory: URL {
        if let target = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe") {
            return URL(fileURLWithPath: target).deletingLastPathComponent()
        }
        return URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath().deletingLastPathComponent()
    }

    /// `<release>/<relativePath>` when the executable runs from a release's `bin/` and the file is
    /// there, e.g. `lib/libxgboost.so` or `share/conviction/models/finance-tweet-minilm`.
    public static func bundled(_ relativePath: String) -> String? {
        let candidate = executableDirectory.deletingLastPathComponent().appendingPathComponent(relativePath).path
        return FileManager.default.fileExists(atPath: candidate) ? candidate : nil
    }

    /// The shipped model folder of a release, else `.models/<name>` in a checkout.
    public static func model(_ name: String) -> String? {
        bundled("share/conviction/models/\(name)") ?? find(".models/\(name)")
    }

    static func roots() -> [URL] {
        var roots: [URL] = []
        let starts = [URL(fileURLWithPath: FileManager.default.currentDirectoryPath), executableDirectory]
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
