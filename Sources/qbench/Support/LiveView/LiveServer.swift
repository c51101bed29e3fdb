import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix

/// The station's live page over HTTP/1.1 (SwiftNIO, already built for the gRPC transport, so no
/// web framework is added to the build): `GET /` the page, `GET /state.json` the state, `GET
/// /events` the state as server-sent events, one per change. Read-only: any other method is
/// answered 405. Bound to loopback unless the user names another address.
final class LiveServer: Sendable {
    let state: LiveState
    let group: MultiThreadedEventLoopGroup
    let channel: any Channel

    /// `[HOST:]PORT` (HOST defaults to 127.0.0.1; port 0 picks a free one).
    static func start(_ address: String, state: LiveState) throws -> LiveServer {
        let (host, port) = try parse(address)
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        do {
            let channel = try ServerBootstrap(group: group)
                .serverChannelOption(.backlog, value: 16)
                .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
                .childChannelInitializer { channel in
                    channel.pipeline.configureHTTPServerPipeline().flatMap {
                        channel.pipeline.addHandler(LiveHandler(state: state))
                    }
                }
                .bind(host: host, port: port).wait()
            return LiveServer(state: state, group: group, channel: channel)
        } catch {
            try? group.syncShutdownGracefully()
            throw CLIError("--live \(address): cannot listen there (\(error)): pick another port, or a host this machine has")
        }
    }

    private init(state: LiveState, group: MultiThreadedEventLoopGroup, channel: any Channel) {
        self.state = state; self.group = group; self.channel = channel
    }

    var port: Int { channel.localAddress?.port ?? 0 }
    var url: String { "http://\(channel.localAddress?.ipAddress ?? "127.0.0.1"):\(port)/" }

    func stop() {
        try? channel.close().wait()
        try? group.syncShutdownGracefully()
    }

    static func parse(_ text: String) throws -> (String, Int) {
        var host = "127.0.0.1", portText = text
        if let colon = text.lastIndex(of: ":") {
            host = String(text[..<colon]).trimmingCharacters(in: CharacterSet(charactersIn: "[]"))
            portText = String(text[text.index(after: colon)...])
        }
        guard let port = Int(portText), (0...65_535).contains(port), !host.isEmpty else {
            throw CLIError("--live '\(text)' is not [HOST:]PORT (e.g. 8080 for http://127.0.0.1:8080/, or 0.0.0.0:8080 to be seen from other machines)")
        }
        return (host, port)
    }
}

/// One HTTP connection: a page, a JSON state, or an event stream that stays open.
final class LiveHandler: ChannelInboundHandler, @unchecked Sendable {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    let state: LiveState
    private var listener: UUID?

    init(state: LiveState) { self.state = state }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard case let .head(request) = unwrapInboundIn(data) else { return }
        guard request.method == .GET else {
            respond(context, status: .methodNotAllowed, type: "text/plain; charset=utf-8", body: Data("read-only: GET only\n".utf8))
            return
        }
        let path = request.uri.split(separator: "?").first.map(String.init) ?? "/"
        switch path {
        case "/": respond(context, status: .ok, type: "text/html; charset=utf-8", body: Data(LivePage.html.utf8))
        case "/state.json": respond(context, status: .ok, type: "application/json", body: state.json)
        case "/events": openStream(context)
        default: respond(context, status: .notFound, type: "text/plain; charset=utf-8", body: Data("no such page: \(path)\n".utf8))
        }
    }

    private func respond(_ context: ChannelHandlerContext, status: HTTPResponseStatus, type: String, body: Data) {
        var headers = HTTPHeaders()
        headers.add(name: "Content-Type", value: type)
        headers.add(name: "Content-Length", value: "\(body.count)")
        headers.add(name: "Cache-Control", value: "no-store")
        context.write(wrapOutboundOut(.head(HTTPResponseHead(version: .http1_1, status: status, headers: headers))), promise: nil)
        context.write(wrapOutboundOut(.body(.byteBuffer(context.channel.allocator.buffer(bytes: body)))), promise: nil)
        context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
    }

    private func openStream(_ context: ChannelHandlerContext) {
        var headers = HTTPHeaders()
        headers.add(name: "Content-Type", value: "text/event-stream")
        headers.add(name: "Cache-Control", value: "no-store")
        context.writeAndFlush(wrapOutboundOut(.head(HTTPResponseHead(version: .http1_1, status: .ok, headers: headers))), promise: nil)
        let channel = context.channel
        let send: @Sendable (Data) -> Void = { data in
            var buffer = channel.allocator.buffer(capacity: data.count + 8)
            buffer.writeString("data: ")
            buffer.writeBytes(data)
            buffer.writeString("\n\n")
            channel.writeAndFlush(HTTPServerResponsePart.body(.byteBuffer(buffer)), promise: nil)
        }
        send(state.json)
        listener = state.listen(send)
    }

    func channelInactive(context: ChannelHandlerContext) {
        if let listener { state.stopListening(listener) }
        context.fireChannelInactive()
    }
}
