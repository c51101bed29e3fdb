import Testing
@testable import SecureInference

@Suite("Certification projection")
struct CertificationProjectionTests {
    /// More vacuum slots never make certification later; a budget below the honest leakage never certifies.
    @Test(arguments: [(2.0, 0.55, 0.015), (1.3, 1.1, 0.015), (2.0, 4.0, 0.1)])
    func moreVacuumSlotsCertifySooner(gain: Double, mu: Double, budget: Double) throws {
        var p = CertificationProjection(gain: gain, photonsPerMode: mu, budgetBitsPerMode: budget)
        var previous = Double.infinity
        for v in [8, 32, 392, 1568] {
            p.vacuumSlotsPerRow = v
            let images = try #require(try p.imagesToCertify())
            #expect(images <= previous * 1.002)
            let at = try p.assessment(images: images)
            #expect(at.decision == .certified && at.leakageUpperBound <= budget)
            #expect(try p.assessment(images: images / 1.01).decision != .certified)
            previous = images
        }
        let honest = try LeakageSummary(gain: gain, photonsPerMode: mu).weightLeakageBitsPerMode
        p.budgetBitsPerMode = honest * 0.999
        #expect(try p.imagesToCertify() == nil)
    }

    /// The projection's standard errors fall as 1/√images and the point estimate is the honest channel.
    @Test func standardErrorsScale() throws {
        let p = CertificationProjection(gain: 2, photonsPerMode: 4, budgetBitsPerMode: 0.1)
        let a = try p.expectedEstimate(images: 100), b = try p.expectedEstimate(images: 10_000)
        #expect(abs(a.excessNoiseStandardError / b.excessNoiseStandardError - 10) < 1e-9)
        #expect(abs(a.transmittanceStandardError / b.transmittanceStandardError - 10) < 1e-9)
        #expect(a.transmittance == 1 && abs(a.excessNoise - 1.0 / 392) < 1e-15)
    }
}
