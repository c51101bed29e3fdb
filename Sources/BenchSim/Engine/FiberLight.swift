import BenchKit
import Foundation

/// The light of one trigger burst at the client's input, as the fibre delivers it: the coherent
/// amplitude of every slot (forward link applied; the same for every shot of the burst, whose
/// frames do not change) and the shot numbers. This is all a coherent state is: the client's twin
/// adds the vacuum noise of its own measurement.
struct ArrivingLight: @unchecked Sendable {
    /// Global number of the burst's first shot (the noise streams are keyed by it).
    let firstShot: UInt64
    /// Shots the trigger fired.
    let shots: Int
    /// Shots whose returned light the server measures (the client's twin returns these).
    let returnShots: Int
    /// Simulated time at which the burst's start reaches the client (s): the server's firing time
    /// plus the forward link's delay.
    let time: Double
    /// Slots per shot.
    let slots: Int
    /// Re and Im of each slot's amplitude, √photons; nil when no light goes to the client (the
    /// switch routes back-to-back): its receiver then digitises vacuum for the shots it records.
    let re: FloatStorage?, im: FloatStorage?

    var dark: Bool { re == nil }
}

/// The light the client sends back for the measured shots of a burst, exactly: each returned mode
/// is the mode that arrived plus what the client's optics added. U_x† spreads the one changed mode
/// of a row back along ξ, so the addition of row r of shot k is ξ_j D_{k,r} on its signal slots
/// (D = (k − 1)β + E before the return link), plus, for an intercept-resend client, the heterodyne
/// outcome of every slot (`dense`). The server's twin turns it into samples only through its
/// homodyne receiver.
struct ReturnedLight: @unchecked Sendable {
    let layout: FrameLayout
    let shots: Int
    /// ξ of each shot, shots × modesPerRow.
    let xiRe: FloatStorage, xiIm: FloatStorage
    /// D of each row of each shot, interleaved (Re, Im): shots × rows × 2.
    let rowDisplacement: FloatStorage
    /// Amplitude added to every slot, interleaved (Re, Im): shots × slots × 2 (intercept-resend).
    let dense: FloatStorage?

    /// Nothing comes back that the server measures.
    static func none(_ layout: FrameLayout) -> ReturnedLight {
        ReturnedLight(layout: layout, shots: 0, xiRe: FloatStorage(count: 0), xiIm: FloatStorage(count: 0),
                      rowDisplacement: FloatStorage(count: 0), dense: nil)
    }
}

/// Where a server-side twin's light goes on the client path: the client's twin, in this process
/// (a one-table bench) or in another (`TCPFiber`, a split bench).
protocol FiberEnd: AnyObject, Sendable {
    /// Sends a burst to the client's twin and waits for what comes back (nil: nothing the
    /// server measures, e.g. the client's processor is idle).
    func exchange(_ light: ArrivingLight, timeout: Duration) throws -> ReturnedLight?
    /// Where the fibre goes, for messages.
    var peerDescription: String { get }
}
