import CBLAS

/// A dense row-major single-precision matrix, multiplied through OpenBLAS.
public struct Matrix: Sendable, Equatable {
    public let rows: Int
    public let cols: Int
    public var values: [Float]

    public init(rows: Int, cols: Int, values: [Float]) {
        // Files never reach this unchecked: ModelFile.decode and MNISTSet.parse compute the count
        // with overflow checks and from the bytes present. A mismatch is a programming error.
        precondition(values.count == rows * cols, "Matrix \(rows)×\(cols) needs \(rows * cols) values, got \(values.count)")
        self.rows = rows; self.cols = cols; self.values = values
    }

    public init(rows: Int, cols: Int, repeating value: Float = 0) {
        self.init(rows: rows, cols: cols, values: [Float](repeating: value, count: rows * cols))
    }

    public subscript(row: Int, col: Int) -> Float {
        get { values[row * cols + col] }
        set { values[row * cols + col] = newValue }
    }

    public func row(_ r: Int) -> ArraySlice<Float> { values[(r * cols)..<((r + 1) * cols)] }

    public var transposed: Matrix {
        var t = Matrix(rows: cols, cols: rows)
        for r in 0..<rows { for c in 0..<cols { t.values[c * rows + r] = values[r * cols + c] } }
        return t
    }
}

/// C = alpha · op(A) · op(B) + beta · C (single precision, row-major), the one hot kernel of
/// training and of the protocol's batched inner products.
public func gemm(_ a: Matrix, transposeA: Bool = false, _ b: Matrix, transposeB: Bool = false,
                 into c: inout Matrix, alpha: Float = 1, beta: Float = 0) {
    let m = transposeA ? a.cols : a.rows
    let k = transposeA ? a.rows : a.cols
    let kb = transposeB ? b.cols : b.rows
    let n = transposeB ? b.rows : b.cols
    // Shapes are checked where they come from outside (ModelFile.decode: layer chaining;
    // ModelFile.checkInputs: model against images): a mismatch here is a programming error.
    precondition(k == kb, "gemm inner dimensions differ: \(k) vs \(kb)")
    precondition(c.rows == m && c.cols == n, "gemm output is \(c.rows)×\(c.cols), needs \(m)×\(n)")
    a.values.withUnsafeBufferPointer { pa in
        b.values.withUnsafeBufferPointer { pb in
            c.values.withUnsafeMutableBufferPointer { pc in
                cblas_sgemm(CblasRowMajor,
                            transposeA ? CblasTrans : CblasNoTrans,
                            transposeB ? CblasTrans : CblasNoTrans,
                            Int32(m), Int32(n), Int32(k), alpha,
                            pa.baseAddress, Int32(a.cols), pb.baseAddress, Int32(b.cols),
                            beta, pc.baseAddress, Int32(c.cols))
            }
        }
    }
}

/// op(A) · op(B) as a new matrix.
public func matmul(_ a: Matrix, transposeA: Bool = false, _ b: Matrix, transposeB: Bool = false) -> Matrix {
    var c = Matrix(rows: transposeA ? a.cols : a.rows, cols: transposeB ? b.rows : b.cols)
    gemm(a, transposeA: transposeA, b, transposeB: transposeB, into: &c)
    return c
}

/// Number of threads OpenBLAS may use (defaults to the core count).
public func setLinearAlgebraThreads(_ n: Int) { openblas_set_num_threads(Int32(max(1, n))) }
