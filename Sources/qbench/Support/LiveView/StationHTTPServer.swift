import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix

/// A station's pages over HTTP/1.1 (SwiftNIO, already built for the gRPC transport, so no web
/// framework is added to the build): with a live state, `GET /` the page, `GET /state.json` the
/// state and `GET /events` the state as server-sent events, one per change; with metrics, `GET
/// /metrics` in Prometheus's text format. Read-only: any other method is answered 405. Bound to
/// loopback unless the user names another address.
final class StationHTTPServer: Sendable {
    let live: LiveState?
    let metrics: StationMetrics?
    let group: MultiThreadedEventLoopGroup
    let channel: any Channel

    /// `[HOST:]PORT` (HOST defaults to 127.0.0.1; port 0 picks a free one); `option` names the
    /// command-line option in messages.
    static func start(_ address: String, option: String, live: LiveState?, metrics: StationMetrics?) throws -> StationHTTPServer {
        let (host, port) = try parse(address, option: option)
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        do {
            let channel = try ServerBootstrap(group: group)
                .serverChannelOption(.backlog, value: 16)
                .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
                .childChannelInitializer { channel in
                    channel.pipeline.configureHTTPServerPipeline().flatMap {
                        channel.pipeline.addHandler(StationHTTPHandler(live: live, metrics: metrics))
                    }
                }
                .bind(host: host, port: port).wait()
            return StationHTTPServer(live: live, metrics: metrics, group: group, channel: channel)
        } catch {
            try? group.syncShutdownGracefully()
            throw CLIError("\(option) \(address): cannot listen there (\(error)): pick another port, or a host this machine has")
        }
    }

    private init(live: LiveState?, metrics: StationMetrics?, group: MultiThreadedEventLoopGroup, channel: any Channel) {
        self.live = live; self.metrics = metrics; self.group = group; self.channel = channel
    }

    var port: Int { channel.localAddress?.port ?? 0 }
    var url: String { "http://\(channel.localAddress?.ipAddress ?? "127.0.0.1"):\(port)/" }

    func stop() {
        try? channel.close().wait()
        try? group.syncShutdownGracefully()
    }

    static func parse(_ text: String, option: String) throws -> (String, Int) {
        var host = "127.0.0.1", portText = text
        if let colon = text.lastIndex(of: ":") {
            host = String(text[..<colon]).trimmingCharacters(in: CharacterSet(charactersIn: "[]"))
            portText = String(text[text.index(after: colon)...])
        }
        guard let port = Int(portText), (0...65_535).contains(port), !host.isEmpty else {
            throw CLIError("\(option) '\(text)' is not [HOST:]PORT (e.g. 8080 for http://127.0.0.1:8080/, or 0.0.0.0:8080 to be seen from other machines)")
        }
        return (host, port)
    }
}

/// One HTTP connection: a page, a JSON state, an event stream that stays open, or the metrics.
final class StationHTTPHandler: ChannelInboundHandler, @unchecked Sendable {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    let live: LiveState?
    let metrics: StationMetrics?
    private var listener: UUID?

    init(live: LiveState?, metrics: StationMetrics?) { self.live = live; self.metrics = metrics }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard case let .head(request) = unwrapInboundIn(data) else { return }
        guard request.method == .GET else {
            respond(context, status: .methodNotAllowed, type: "text/plain; charset=utf-8", body: Data("read-only: GET only\n".utf8))
            return
        }
        let path = request.uri.split(separator: "?").first.map(String.init) ?? "/"
        switch (path, live, metrics) {
        case ("/", _?, _): respond(context, status: .ok, type: "text/html; charset=utf-8", body: Data(LivePage.html.utf8))
        case let ("/state.json", live?, _): respond(context, status: .ok, type: "application/json", body: live.json)
        case let ("/events", live?, _): openStream(context, live)
        case let ("/metrics", _, metrics?): respond(context, status: .ok, type: "text/plain; version=0.0.4; charset=utf-8", body: metrics.text)
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

    private func openStream(_ context: ChannelHandlerContext, _ state: LiveState) {
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
        if let listener { live?.stopListening(listener) }
        context.fireChannelInactive()
    }
}
