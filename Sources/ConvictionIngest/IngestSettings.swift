/// Whether full-archive search (`/2/tweets/search/all`, X's Pro and Enterprise plans) may be used.
public enum FullArchiveAccess: String, Sendable, CaseIterable {
    /// Try it once when a window needs it; fall back when X answers that the account is not enrolled.
    case auto
    case always
    /// Only recent search (the last 7 days).
    case never
}

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
    public var fullArchive = FullArchiveAccess.auto
    /// Posts the X account may read in a month (its plan's cap), for `ingest history`'s estimate.
    public var monthlyPostCap = 10_000
    /// US dollars X bills per post read (pay-per-use), for the estimate.
    public var costPerPost = 0.005
    /// `ingest history` stops after its estimate when it would read more posts than this, unless `--yes`.
    public var historyMaxPosts = 5_000
    /// Posts per search page for `ingest history` (at most 500 for full-archive, 100 for recent search).
    public var historyPageSize = 500

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
        fullArchive = ingest.fullArchive
    }
}
