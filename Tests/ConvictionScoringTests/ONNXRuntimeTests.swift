@testable import ConvictionScoring
import ConvictionTesting
import Foundation
import Testing

/// Every `OrtApi` entry Conviction calls, exercised against the real library.
@Suite(.enabled(if: ScoringFixtures.available), .timeLimit(.minutes(10))) struct ONNXRuntimeTests {
    @Test func loadsTheLibraryAndEveryEntryIsPresent() throws {
        let runtime = try ORTRuntime.load()
        #expect(runtime.version.split(separator: ".").count >= 3, "version \(runtime.version)")
        #expect(runtime.path.contains("libonnxruntime.so"))
        #expect(ORTAPI.Entry.allCases.count == 31)
    }

    /// CreateStatus, GetErrorCode, GetErrorMessage, ReleaseStatus.
    @Test func statusesBecomeSwiftErrorsWithORTsMessage() throws {
        let runtime = try ORTRuntime.load()
        let error = try #require(runtime.roundTripError(code: 2, message: "planted message ü"))
        #expect(error.code == 2)
        #expect(error.message == "planted message ü")
        #expect(error.description.contains("planted message"))
    }

    @Test func aBadModelPathIsAnErrorNamingThePath() throws {
        let runtime = try ORTRuntime.load()
        let error = try #require(throws: ORTError.self) { try ORTSession(runtime: runtime, modelPath: "/nonexistent/model.onnx") }
        #expect(error.call.hasPrefix("CreateSession"))
        #expect(error.message.contains("/nonexistent/model.onnx"), "\(error)")
        let garbage = TestSupport.temporaryDirectory("ort").appendingPathComponent("model.onnx")
        try Data("not a model".utf8).write(to: garbage)
        #expect(throws: ORTError.self) { try ORTSession(runtime: runtime, modelPath: garbage.path) }
    }

    @Test func aMissingLibraryIsAClearError() throws {
        let error = try #require(throws: ORTError.self) { try ORTRuntime.load(explicit: "/nonexistent/libonnxruntime.so") }
        #expect(error.message.contains("/nonexistent/libonnxruntime.so"))
    }

    /// SessionGetInputCount/OutputCount, SessionGetInputName/OutputName, GetAllocatorWithDefaultOptions, AllocatorFree.
    @Test func readsInputAndOutputNames() throws {
        let tiny = try #require(ScoringFixtures.tinyModel)
        let session = try ORTSession(runtime: try ORTRuntime.load(), modelPath: tiny.folder + "/model.onnx")
        #expect(session.inputNames == ["input_ids", "attention_mask", "token_type_ids"])
        #expect(session.outputNames == ["logits"])
    }

    /// CreateCpuMemoryInfo, CreateTensorWithDataAsOrtValue, Run, GetTensorTypeAndShape, GetTensorElementType,
    /// GetDimensionsCount, GetDimensions, GetTensorMutableData, ReleaseValue, ReleaseTensorTypeAndShapeInfo.
    @Test func runsAndReadsTheOutputTensor() throws {
        let tiny = try #require(ScoringFixtures.tinyModel)
        let session = try ORTSession(runtime: try ORTRuntime.load(), modelPath: tiny.folder + "/model.onnx")
        let ids: [Int64] = [101, 2000, 2001, 102, 101, 2003, 102, 0]
        let mask: [Int64] = [1, 1, 1, 1, 1, 1, 1, 0]
        let out = try session.run(int64Inputs: [("input_ids", ids), ("attention_mask", mask), ("token_type_ids", Array(repeating: 0, count: 8))],
                                  shape: [2, 4], outputs: ["logits"])
        #expect(out.count == 1)
        #expect(out[0].shape == [2, 3])
        #expect(out[0].values.count == 6 && out[0].values.allSatisfy(\.isFinite))
    }

    @Test func aWrongInputNameIsAnErrorFromRun() throws {
        let tiny = try #require(ScoringFixtures.tinyModel)
        let session = try ORTSession(runtime: try ORTRuntime.load(), modelPath: tiny.folder + "/model.onnx")
        let error = try #require(throws: ORTError.self) {
            try session.run(int64Inputs: [("input_idz", [101, 102]), ("attention_mask", [1, 1]), ("token_type_ids", [0, 0])], shape: [1, 2], outputs: ["logits"])
        }
        #expect(error.call == "Run")
        #expect(error.message.contains("input_idz"), "\(error)")
        #expect(throws: ORTError.self) {
            try session.run(int64Inputs: [("input_ids", [101, 102]), ("attention_mask", [1, 1]), ("token_type_ids", [0, 0])], shape: [1, 2], outputs: ["probs"])
        }
    }

    /// SetIntraOpNumThreads, SetInterOpNumThreads, SetSessionGraphOptimizationLevel, AddSessionConfigEntry;
    /// CreateSessionOptions and ReleaseSessionOptions around them.
    @Test func sessionOptionsTakeEffect() throws {
        let tiny = try #require(ScoringFixtures.tinyModel)
        let runtime = try ORTRuntime.load()
        let path = tiny.folder + "/model.onnx"
        let feeds: [(name: String, values: [Int64])] = [("input_ids", [101, 7592, 2088, 102]), ("attention_mask", [1, 1, 1, 1]), ("token_type_ids", [0, 0, 0, 0])]
        var outputs: [[Float]] = []
        for level in ORTSessionOptions.GraphOptimization.allCases {
            let session = try ORTSession(runtime: runtime, modelPath: path, options: .init(intraOpThreads: 1, interOpThreads: 1, optimization: level, allowSpinning: true))
            outputs.append(try session.run(int64Inputs: feeds, shape: [1, 4], outputs: ["logits"])[0].values)
        }
        for o in outputs.dropFirst() { for (a, b) in zip(o, outputs[0]) { #expect(abs(a - b) < 1e-5) } }
        // Proves entry 130 is AddSessionConfigEntry: asking for the ORT file format makes an .onnx file unloadable.
        let error = try #require(throws: ORTError.self) {
            try ORTSession(runtime: runtime, modelPath: path, options: .init(configEntries: ["session.load_model_format": "ORT"]))
        }
        #expect(error.call.hasPrefix("CreateSession"), "\(error)")
    }
}
