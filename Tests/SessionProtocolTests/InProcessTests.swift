import Foundation
import SessionProtocol
import Testing

struct InProcessTests {
    @Test func fullSessionOverTheInProcessPair() async throws {
        let (s, c) = InProcessSessionChannel.pair()
        let server = SessionEndpoint(side: .server, softwareVersion: "s", channel: s)
        let client = SessionEndpoint(side: .client, softwareVersion: "c", channel: c)
        async let serverDone: Void = runServer(server, decision: { $0 == 1 ? .certified : .collecting })
        async let clientDone: Void = runClient(client)
        try await serverDone
        try await clientDone
        #expect(await server.outcome == .completed(summary: "done"))
        #expect(await client.outcome == .completed(summary: "done"))
        #expect(await server.transcript == client.transcript)
        #expect(await server.lastCommit?.block == 1)
    }

    @Test func receiveTimesOutWithADuration() async throws {
        let (s, _) = InProcessSessionChannel.pair()
        let start = ContinuousClock.now
        await #expect(throws: SessionChannelError.timedOut(.milliseconds(100))) { _ = try await s.receive(timeout: .milliseconds(100)) }
        // The point is that it returns at all; how soon depends on the machine's load.
        #expect(ContinuousClock.now - start < .seconds(30))
    }

    @Test func closingOneEndIsPeerLostOnTheOther() async throws {
        let (s, c) = InProcessSessionChannel.pair()
        let server = SessionEndpoint(side: .server, softwareVersion: "s", channel: s)
        await c.close()
        do {
            _ = try await server.receive(timeout: .seconds(1))
            Issue.record("received from a closed peer")
        } catch {
            guard case .channel(.peerLost) = error else { Issue.record("\(error)"); return }
        }
        #expect(await server.channelFailure != nil)
    }

    @Test func refusedMessageIsAnsweredWithAnError() async throws {
        let (s, c) = InProcessSessionChannel.pair()
        let server = SessionEndpoint(side: .server, softwareVersion: "s", channel: s)
        // The client skips its hello and sends an accept.
        var e = SessionEnvelope()
        e.sequence = 0
        e.body = .accept(parameters: testParameters)
        try await c.send(e)
        do {
            _ = try await server.receive(timeout: .seconds(1))
            Issue.record("out-of-order accept was accepted")
        } catch {
            guard case let .refused(v) = error else { Issue.record("\(error)"); return }
            #expect(v.code == .unexpectedMessage)
        }
        let reply = try await c.receive(timeout: .seconds(1))
        guard case let .error(err)? = reply.body else { Issue.record("no error reply"); return }
        #expect(err.code == .unexpectedMessage)
        #expect(await server.violations.count == 1)
    }
}
