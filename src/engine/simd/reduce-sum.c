// Sum over the middle axis of x viewed as [outer, middle, inner]: the reduction that the
// gradient of a broadcast (bias, per-channel scale) asks for, e.g. NHWC → C. wasm's own Sum
// first transposes the reduced axes to the end, which costs more than the sum itself.
#include <wasm_simd128.h>

#define INLINE static inline __attribute__((always_inline))
// Rows summed in registers before adding into the output: bounds float32 rounding growth.
#define CHUNK_ROWS 256

/** Columns [0, 4·vectors) of one block of `rows` rows (stride `inner`), added into out. */
INLINE void sum_columns(const float *x, int rows, int inner, float *out, const int vectors) {
  v128_t acc[8];
  for (int j = 0; j < vectors; j++) acc[j] = wasm_f32x4_splat(0.0f);
  for (int m = 0; m < rows; m++) {
    for (int j = 0; j < vectors; j++) acc[j] = wasm_f32x4_add(acc[j], wasm_v128_load(x + 4 * j));
    x += inner;
  }
  for (int j = 0; j < vectors; j++) wasm_v128_store(out + 4 * j, wasm_f32x4_add(wasm_v128_load(out + 4 * j), acc[j]));
}

/** x [outer, middle, inner] float32 → out [outer, inner] = Σ over middle (out is overwritten). */
void sum_middle_axis_f32(const float *x, float *out, int outer, int middle, int inner) {
  for (int o = 0; o < outer; o++) {
    float *row = out + (long)o * inner;
    for (int i = 0; i < inner; i++) row[i] = 0.0f;
    for (int m0 = 0; m0 < middle; m0 += CHUNK_ROWS) {
      const int rows = middle - m0 < CHUNK_ROWS ? middle - m0 : CHUNK_ROWS;
      const float *block = x + ((long)o * middle + m0) * inner;
      int i = 0;
      for (; i + 32 <= inner; i += 32) sum_columns(block + i, rows, inner, row + i, 8);
      for (; i + 4 <= inner; i += 4) sum_columns(block + i, rows, inner, row + i, 1);
      for (; i < inner; i++) {
        float s = 0.0f;
        for (int m = 0; m < rows; m++) s += block[(long)m * inner + i];
        row[i] += s;
      }
    }
  }
}
