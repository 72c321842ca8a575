import CNative

/// Row-major single-precision matrix products: C = alpha·op(A)·op(B) + beta·C.
///
/// Two back ends are available; `backend` picks one for the whole process (oneDNN's
/// `dnnl_sgemm` by default: it shares oneDNN's OpenMP threads with the convolutions instead of
/// starting OpenBLAS's own pool beside them; `discipline bench --gemm` compares them).
public enum GEMM {
  public enum Backend: String, Sendable, CaseIterable { case dnnl, openblas }
  nonisolated(unsafe) public static var backend: Backend = .dnnl

  @inline(__always)
  public static func multiply(
    transposeA: Bool, transposeB: Bool, m: Int, n: Int, k: Int, alpha: Float = 1,
    _ a: UnsafePointer<Float>, lda: Int, _ b: UnsafePointer<Float>, ldb: Int,
    beta: Float = 0, _ c: UnsafeMutablePointer<Float>, ldc: Int
  ) {
    switch backend {
    case .dnnl:
      DNNL.check(
        dnnl_sgemm(
          transposeA ? 84 : 78, transposeB ? 84 : 78, Int64(m), Int64(n), Int64(k), alpha,
          a, Int64(lda), b, Int64(ldb), beta, c, Int64(ldc)), "running sgemm")
    case .openblas:
      cblas_sgemm(
        CblasRowMajor, transposeA ? CblasTrans : CblasNoTrans,
        transposeB ? CblasTrans : CblasNoTrans,
        Int32(m), Int32(n), Int32(k), alpha, a, Int32(lda), b, Int32(ldb), beta, c, Int32(ldc))
    }
  }
}
