import Foundation

/// Reads the regular files of a tar archive (ustar and GNU headers), e.g. the `model.tar.gz` a
/// SageMaker training job leaves. Hand-written: no package on the mirror reads tar, and a model
/// archive needs only names, sizes and bytes.
public enum TarArchive {
    public struct Damaged: Error, CustomStringConvertible {
        public let description: String
    }

    /// File name (without a leading `./`) to contents.
    public static func files(_ archive: Data) throws -> [String: Data] {
        let bytes = [UInt8](archive)
        var files: [String: Data] = [:]
        var offset = 0
        var longName: String?
        while offset + 512 <= bytes.count {
            let header = bytes[offset..<offset + 512]
            if header.allSatisfy({ $0 == 0 }) { break }  // end of archive
            func text(_ range: Range<Int>) -> String {
                let field = bytes[(offset + range.lowerBound)..<(offset + range.upperBound)]
                return String(decoding: field.prefix { $0 != 0 }, as: UTF8.self)
            }
            let sizeText = text(124..<136).trimmingCharacters(in: .whitespaces)
            guard let size = Int(sizeText, radix: 8) else { throw Damaged(description: "tar header at byte \(offset): size field \(sizeText.debugDescription) is not octal") }
            let type = bytes[offset + 156]
            var name = text(0..<100)
            let prefix = text(345..<500)
            if text(257..<263).hasPrefix("ustar"), !prefix.isEmpty { name = prefix + "/" + name }
            let start = offset + 512
            guard start + size <= bytes.count else { throw Damaged(description: "tar entry \(name) runs past the end of the archive") }
            let body = Data(bytes[start..<start + size])
            switch type {
            case UInt8(ascii: "L"):  // GNU long name for the next entry
                longName = String(decoding: body.prefix { $0 != 0 }, as: UTF8.self)
            case 0, UInt8(ascii: "0"):
                let full = longName ?? name
                files[full.hasPrefix("./") ? String(full.dropFirst(2)) : full] = body
                longName = nil
            default:
                longName = nil
            }
            offset = start + (size + 511) / 512 * 512
        }
        return files
    }
}
