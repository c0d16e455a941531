/// Cuts the stream's bytes into lines. A chunk may end anywhere (mid-line, mid-character), so
/// bytes are held until their line's `\n` arrives; decoding as text waits for the whole line.
public struct LineFramer: Sendable {
    private var pending: [UInt8] = []
    /// A line longer than this is not X's: the framer keeps only its start (which then fails to parse
    /// and is quarantined) rather than grow without bound.
    public let maxLineBytes: Int

    public init(maxLineBytes: Int = 4 << 20) { self.maxLineBytes = maxLineBytes }

    /// Bytes held for an unfinished line.
    public var pendingCount: Int { pending.count }

    /// Appends a chunk; returns the lines it completed, without `\r\n`. Blank lines are keep-alives
    /// and come back empty so the caller can count them.
    public mutating func append<C: Collection<UInt8>>(_ chunk: C) -> [[UInt8]] {
        var lines: [[UInt8]] = []
        var rest = chunk[...]
        while let newline = rest.firstIndex(of: 0x0A) {
            if pending.count < maxLineBytes { pending.append(contentsOf: rest[..<newline].prefix(maxLineBytes - pending.count)) }
            if pending.last == 0x0D { pending.removeLast() }
            lines.append(pending)
            pending.removeAll(keepingCapacity: true)
            rest = rest[rest.index(after: newline)...]
        }
        if pending.count < maxLineBytes { pending.append(contentsOf: rest.prefix(maxLineBytes - pending.count)) }
        return lines
    }

    /// Forgets a partial line: after a disconnect the rest of it will never come.
    public mutating func reset() { pending.removeAll() }
}
