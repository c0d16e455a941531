import ConvictionPipeline
import Testing

@Suite(.timeLimit(.minutes(10))) struct FeatureSchemaTests {
    /// Changing the feature columns without bumping `FeaturesTask.schemaVersion` fails here.
    @Test func columnChangesBumpTheSchemaVersion() {
        #expect(FeaturesTask.currentSchemaFingerprint == FeaturesTask.schemaFingerprint,
                "the feature columns changed: bump FeaturesTask.schemaVersion and set schemaFingerprint to \(FeaturesTask.currentSchemaFingerprint)")
    }
}
