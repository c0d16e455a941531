/// What kind of failure an error is: callers switch on it (retry, ask for credentials, fix the
/// file), and the command line turns it into its exit status (sysexits.h numbers, so scripts and
/// schedulers can tell a bad configuration from an outage).
public enum ErrorCode: String, Sendable, CaseIterable {
    /// A setting is wrong: the configuration file, an environment variable, a flag's value.
    case configuration
    /// Input data cannot be read as what it claims to be (a malformed file, line or model folder).
    case badInput
    /// Input that a step needs is not there (no such file, nothing to replay, no feature matrices).
    case missingInput
    /// Credentials are missing, invalid or refused.
    case credentials
    /// A service could not be reached or answered with a server error.
    case unavailable
    /// A service asked to slow down; the same call can succeed later.
    case rateLimited
    /// A usage cap for the billing period is used up (X's monthly post cap): unlike a rate limit,
    /// retrying soon cannot help.
    case usageCap
    /// The store could not be read or written.
    case storage
    /// A native library (ONNX Runtime, XGBoost) could not be loaded or failed.
    case nativeLibrary
    /// The store refused, to keep its contents consistent (simulated and real data, a lease held by another worker).
    case conflict

    /// The process exit status for this kind of failure.
    public var exitStatus: Int32 {
        switch self {
        case .badInput: 65  // EX_DATAERR
        case .missingInput: 66  // EX_NOINPUT
        case .unavailable: 69  // EX_UNAVAILABLE
        case .nativeLibrary: 72  // EX_OSFILE
        case .conflict: 73  // EX_CANTCREAT
        case .storage: 74  // EX_IOERR
        case .rateLimited: 75  // EX_TEMPFAIL
        case .usageCap: 76  // EX_PROTOCOL: the service refuses for the rest of its billing period
        case .credentials: 77  // EX_NOPERM
        case .configuration: 78  // EX_CONFIG
        }
    }

    /// One line for `conviction --help`.
    public var meaning: String {
        switch self {
        case .configuration: "a setting is wrong (configuration file, environment variable or flag value)"
        case .badInput: "input data cannot be read (malformed file, line or model folder)"
        case .missingInput: "input a step needs is not there"
        case .credentials: "credentials are missing, invalid or refused"
        case .unavailable: "a service could not be reached or failed"
        case .rateLimited: "a service asked to slow down; try again later"
        case .usageCap: "the X API's monthly usage cap is used up; nothing more can be read until it resets"
        case .storage: "the store could not be read or written"
        case .nativeLibrary: "ONNX Runtime or XGBoost could not be loaded or failed"
        case .conflict: "the store refused to mix simulated and real data, or another worker holds the lease"
        }
    }
}

/// An error of Conviction's: a struct with a message for people and a code for programs.
public protocol ConvictionError: Error, CustomStringConvertible, Sendable {
    var errorCode: ErrorCode { get }
}
