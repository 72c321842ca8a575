// The C libraries the engine stands on: oneDNN (convolution, pooling, batch normalization,
// GEMM), OpenBLAS's CBLAS (GEMM), and zlib (gzip-compressed data sets).
#include <oneapi/dnnl/dnnl.h>
#include <cblas.h>
#include <zlib.h>
#include <malloc.h>
