/// A run as data (Bluesky's plans): the ordered steps the engine executes. Each completed step is
/// journaled before the next starts; blocks carry a checkpoint so a run resumes at the first
/// unfinished block.
public enum PlanStep: Sendable, Codable, Equatable, CustomStringConvertible {
    /// Identities, calibration records (present, valid, measured on these instruments), interlock.
    case preflight
    /// Laser up, biases, LOs, client optics, VOA, frames encoded, switch and shutter.
    case warmUp
    /// One block of images through every layer: server loads each layer's frame, the client
    /// programs U_x per image, trigger, both receivers acquire, the server estimates and decides.
    case block(index: Int, firstImage: Int, images: Int)
    /// Safe state in the bench's declared order, then the result.
    case finish

    public var description: String {
        switch self {
        case .preflight: "preflight"
        case .warmUp: "warm-up"
        case let .block(i, first, n): "block \(i) (images \(first)…\(first + n - 1))"
        case .finish: "finish"
        }
    }

    /// The plan of a run over `images` test images in blocks of `blockImages`.
    public static func plan(images: Int, blockImages: Int) -> [PlanStep] {
        var steps: [PlanStep] = [.preflight, .warmUp]
        var first = 0, index = 0
        while first < images {
            let n = min(blockImages, images - first)
            steps.append(.block(index: index, firstImage: first, images: n))
            first += n; index += 1
        }
        steps.append(.finish)
        return steps
    }
}
