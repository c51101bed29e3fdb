import Foundation
import NumericsKit

/// OpenBLAS on the kernels the CPU can run: when it fell back to its slowest ones
/// (`LinearAlgebraCore.replacement`), `qbench` starts itself again at once, before doing anything,
/// with `OPENBLAS_CORETYPE` set; the same program, arguments, environment and process id. Setting
/// `OPENBLAS_CORETYPE` yourself (to any core) keeps your choice.
enum NativeKernels {
    static func restartIfNeeded() {
        guard let core = LinearAlgebraCore.replacementHere else { return }
        setenv("OPENBLAS_CORETYPE", core, 1)
        execv("/proc/self/exe", CommandLine.unsafeArgv)
        // No /proc: the restart is not possible, and the process runs on as loaded.
        unsetenv("OPENBLAS_CORETYPE")
    }
}
