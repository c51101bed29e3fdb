import CBLAS

/// C = alpha · A · B + beta · C on raw row-major single-precision storage with leading
/// dimensions, so a product can read a sub-block of a larger array (e.g. every row's first n slots
/// out of n + v) without copying it into a `Matrix` first. A is rows × inner, B inner × cols,
/// C rows × cols.
public func gemm(rows: Int, cols: Int, inner: Int,
                 a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int,
                 c: UnsafeMutablePointer<Float>, ldc: Int, alpha: Float = 1, beta: Float = 0) {
    // Leading dimensions are chosen by the calling kernel, never read from outside.
    precondition(lda >= inner && ldb >= cols && ldc >= cols, "gemm leading dimensions are too small for \(rows)×\(inner)·\(inner)×\(cols)")
    guard rows > 0, cols > 0 else { return }
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, Int32(rows), Int32(cols), Int32(inner), alpha,
                a, Int32(lda), b, Int32(ldb), beta, c, Int32(ldc))
}
