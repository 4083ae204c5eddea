// dW of a 2-D convolution (NHWC input and output gradient, HWIO filter gradient) as a
// direct SIMD loop: no im2col copy, no transposed matrix product. Built into
// conv2d-backprop-filter.wasm by scripts/build-wasm-kernels.mjs; loaded by simd-kernels.ts.
//
//   dw[r][c][ci][co] += Σ_(n, oy, ox) x[n][oy·sh − padTop + r][ox·sw − padLeft + c][ci] · dy[n][oy][ox][co]
//
// For one output row and one filter tap, a tile of 4 input × 8 output channels is summed
// over the row's pixels in registers (4 splatted x values times 2 vectors of dy per pixel);
// channels go in blocks of one cache line so that the taps of a row reuse what is in L1.
// Freestanding: no libc; the caller owns the memory layout and zeroes dw first.
#include <wasm_simd128.h>

#define INLINE static inline __attribute__((always_inline))

/** Tile of ciN (1…4) input channels × 4·coV (coV 1 or 2) output channels over `count` pixels. */
INLINE void accumulate_tile(const float *xp, int xStep, const float *dyp, int dyStep, int count,
                            float *dwp, int outC, const int ciN, const int coV) {
  v128_t acc[4][2];
  for (int i = 0; i < ciN; i++)
    for (int j = 0; j < coV; j++) acc[i][j] = wasm_v128_load(dwp + i * outC + 4 * j);
  for (int p = 0; p < count; p++) {
    v128_t d[2];
    for (int j = 0; j < coV; j++) d[j] = wasm_v128_load(dyp + 4 * j);
    for (int i = 0; i < ciN; i++) {
      v128_t s = wasm_v128_load32_splat(xp + i);
      for (int j = 0; j < coV; j++) acc[i][j] = wasm_f32x4_add(acc[i][j], wasm_f32x4_mul(s, d[j]));
    }
    xp += xStep;
    dyp += dyStep;
  }
  for (int i = 0; i < ciN; i++)
    for (int j = 0; j < coV; j++) wasm_v128_store(dwp + i * outC + 4 * j, acc[i][j]);
}

/** One tap's contribution from one row of pixels, for input channels [ci0, ci1) × output [co0, co1). */
static void accumulate_row(const float *xRow, int xStep, const float *dyRow, int count, float *dwTap,
                           int outC, int ci0, int ci1, int co0, int co1) {
  for (int co = co0; co < co1; co += 8) {
    const int wide = co1 - co >= 8;
    for (int ci = ci0; ci < ci1; ci += 4) {
      const float *xp = xRow + ci;
      const float *dyp = dyRow + co;
      float *dwp = dwTap + ci * outC + co;
      const int left = ci1 - ci;
      if (wide) {
        switch (left >= 4 ? 4 : left) {
          case 4: accumulate_tile(xp, xStep, dyp, outC, count, dwp, outC, 4, 2); break;
          case 3: accumulate_tile(xp, xStep, dyp, outC, count, dwp, outC, 3, 2); break;
          case 2: accumulate_tile(xp, xStep, dyp, outC, count, dwp, outC, 2, 2); break;
          default: accumulate_tile(xp, xStep, dyp, outC, count, dwp, outC, 1, 2); break;
        }
      } else {
        switch (left >= 4 ? 4 : left) {
          case 4: accumulate_tile(xp, xStep, dyp, outC, count, dwp, outC, 4, 1); break;
          case 3: accumulate_tile(xp, xStep, dyp, outC, count, dwp, outC, 3, 1); break;
          case 2: accumulate_tile(xp, xStep, dyp, outC, count, dwp, outC, 2, 1); break;
          default: accumulate_tile(xp, xStep, dyp, outC, count, dwp, outC, 1, 1); break;
        }
      }
    }
  }
}

// Channels per pass: one 64-byte cache line of x and of dy, so that all taps of one output
// row reuse the same lines from L1 (a whole 64-channel row of x and dy does not fit there).
#define CHANNEL_BLOCK 16

/**
 * x [batch, inH, inW, inC], dy [batch, outH, outW, outC] → adds into dw [kH, kW, inC, outC]
 * (float32, row-major). outC must be a multiple of 4; any strides, zero padding; dilation 1.
 */
void conv2d_backprop_filter_f32(const float *x, const float *dy, float *dw,
                                int batch, int inH, int inW, int inC, int outH, int outW, int outC,
                                int kH, int kW, int strideH, int strideW, int padTop, int padLeft) {
  for (int n = 0; n < batch; n++) {
    for (int oy = 0; oy < outH; oy++) {
      const float *dyRowStart = dy + ((long)(n * outH + oy) * outW) * outC;
      for (int co0 = 0; co0 < outC; co0 += CHANNEL_BLOCK) {
        const int co1 = outC - co0 < CHANNEL_BLOCK ? outC : co0 + CHANNEL_BLOCK;
        for (int ci0 = 0; ci0 < inC; ci0 += CHANNEL_BLOCK) {
          const int ci1 = inC - ci0 < CHANNEL_BLOCK ? inC : ci0 + CHANNEL_BLOCK;
          for (int r = 0; r < kH; r++) {
            const int iy = oy * strideH - padTop + r;
            if (iy < 0 || iy >= inH) continue;
            for (int c = 0; c < kW; c++) {
              // Output columns whose input column ox·sw − padLeft + c lies inside the image.
              const int shift = padLeft - c;
              const int ox0 = shift > 0 ? (shift + strideW - 1) / strideW : 0;
              int ox1 = (inW - 1 + shift) >= 0 ? (inW - 1 + shift) / strideW + 1 : 0;
              if (ox1 > outW) ox1 = outW;
              if (ox1 <= ox0) continue;
              const float *xRow = x + ((long)(n * inH + iy) * inW + (ox0 * strideW - shift)) * inC;
              accumulate_row(xRow, strideW * inC, dyRowStart + (long)ox0 * outC, ox1 - ox0,
                             dw + (long)(r * kW + c) * inC * outC, outC, ci0, ci1, co0, co1);
            }
          }
        }
      }
    }
  }
}
