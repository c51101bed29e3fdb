import Foundation
import SessionProtocol
import SessionTransport
import Testing
import X509

struct PKITests {
    func temporaryDirectory() -> String {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("qbench-pki-\(UUID().uuidString)").path
        return dir
    }

    func mode(_ path: String) throws -> Int {
        (try FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? NSNumber)?.intValue ?? -1
    }

    @Test func initIssueLoadAndFingerprint() async throws {
        let dir = temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let ca = try LabPKI.initialize(directory: dir)
        #expect(try mode(LabPKI.caKeyPath(dir)) == 0o600)
        #expect(throws: PKIError.self) { try LabPKI.initialize(directory: dir) }
        let issued = try LabPKI.issue(directory: dir, name: "client-1", role: .client, days: 30)
        #expect(try mode(issued.privateKey) == 0o600)
        #expect(throws: PKIError.self) { try LabPKI.issue(directory: dir, name: "client-1", role: .client) }
        #expect(throws: PKIError.self) { try LabPKI.issue(directory: dir, name: "../evil", role: .client) }
        let loaded = try StationCredentials.load(certificate: issued.certificate, privateKey: issued.privateKey)
        #expect(loaded.certificate == issued.credentials.certificate)
        #expect(loaded.certificate.commonName == "client-1")
        #expect(throws: PKIError.self) { try StationCredentials.load(certificate: issued.certificate, privateKey: LabPKI.caKeyPath(dir)) }

        let entries = AllowListEntry.entries(for: loaded.certificate)
        #expect(entries.map(\.description).allSatisfy { AllowListEntry($0) != nil })
        #expect(entries.allSatisfy { $0.matches(loaded.certificate) })
        #expect(!entries.contains { $0.matches(ca.certificate) })
        #expect(AllowListEntry("cert-sha256:zz") == nil)
        #expect(AllowListEntry("sha1:00") == nil)

        let verifier = PeerVerifier(trustRoots: [ca.certificate], role: .client, allowList: [entries[0]])
        guard case .success = await verifier.verify([loaded.certificate]) else { Issue.record("own client refused"); return }
        let serverRole = PeerVerifier(trustRoots: [ca.certificate], role: .server, allowList: nil)
        guard case let .failure(r) = await serverRole.verify([loaded.certificate]) else { Issue.record("client cert accepted as server"); return }
        #expect(r.reason == .wrongRole)
    }

    @Test func verifierRefusesExpiredFutureForeignAndUnlisted() async throws {
        let ca = try LabCertificateAuthority.create()
        let other = try LabCertificateAuthority.create(commonName: "another lab")
        let good = try ca.issue(name: "c", role: .client)
        let expired = try ca.issue(name: "c", role: .client, days: 1, notBefore: Date().addingTimeInterval(-3 * 86_400))
        let future = try ca.issue(name: "c", role: .client, days: 10, notBefore: Date().addingTimeInterval(86_400))
        let foreign = try other.issue(name: "c", role: .client)
        let all: [AllowListEntry] = [.commonName("c")]
        let v = PeerVerifier(trustRoots: [ca.certificate], role: .client, allowList: all)
        let cases: [(StationCredentials, PeerRefusal.Reason?)] = [(good, nil), (expired, .expired), (future, .notYetValid), (foreign, .untrustedIssuer)]
        for (cred, reason) in cases {
            switch await v.verify([cred.certificate]) {
            case .success: #expect(reason == nil)
            case let .failure(r): #expect(r.reason == reason)
            }
        }
        let strict = PeerVerifier(trustRoots: [ca.certificate], role: .client, allowList: [.certificateSHA256(String(repeating: "0", count: 64))])
        guard case let .failure(r) = await strict.verify([good.certificate]) else { Issue.record("unlisted admitted"); return }
        #expect(r.reason == .notOnAllowList)
        #expect(!r.remedy.isEmpty)
    }
}
