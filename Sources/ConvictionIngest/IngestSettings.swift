/// How posts are taken in from X: the `[ingest]` table of the configuration file.
public struct IngestSettings: Sendable {
    public var apiBase = "https://api.x.com"
    /// Filters; their keywords come from `universe.keywords`.
    public var filters = IngestFilters()
    /// No bytes, not even a keep-alive, for this long: the stream is dead, reconnect.
    public var idleTimeout: Duration = .seconds(21)
    /// Journal segments are committed to the store at least this often.
    public var commitInterval: Duration = .seconds(60)
    /// The journal is fsynced at least this often (a power cut loses at most this much).
    public var fsyncInterval: Duration = .seconds(1)
    public var queueCapacity = 100_000
    /// Port for `/metrics` while streaming; 0 = not served.
    public var metricsPort = 0
    /// Journal and de-duplication state; empty = `<data.dir>/ingest-state` (for s3:// a folder
    /// under `.conviction-cache/`).
    public var stateDir = ""
    public var maxAuthFailures = 5
    /// Posts per second the local X API server publishes in the demo.
    public var emulatorRate = 20_000.0

    public init() {}
}

extension StreamIngestor.Settings {
    /// The stream ingester tuned by the `ingest.*` settings; the rest keeps its defaults.
    public init(_ ingest: IngestSettings) {
        self.init()
        idleTimeout = ingest.idleTimeout
        commitInterval = ingest.commitInterval
        fsyncInterval = ingest.fsyncInterval
        queueCapacity = ingest.queueCapacity
        maxAuthFailures = ingest.maxAuthFailures
    }
}
