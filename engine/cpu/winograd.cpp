// Winograd F(4x4, 3x3) convolutions (winograd.h): data layouts, blocking over images, threads.
// The transforms themselves are in winograd_transform.h.
//
// Per block of images, tiles numbered t = image * tiles_per_image + ty * TW + tx:
//   V [36][T][Cp]   input tiles after B^T d B                 (Cp: C rounded up to 8 lanes)
//   U [36][Cp][Op]  filters after G g G^T, once per call      (Op: O rounded up to 8)
//   M [36][T][Op]   M_x = V_x @ U_x: one gemm per tile position x, then A^T m A per tile
// Channels are the contiguous dimension so that every transform works on 8 channels per vector
// whatever the map size (a 4x4 map is one tile: vectorizing across tiles would not work there).
// Up to 128 output channels gemm reads each V_x in place (its limit for an unpacked A).
// The weight gradient: dM [36][T][Op] = A dy A^T per tile, dU_x [Cp][Op] += V_x^T @ dM_x over
// the blocks, then dw += G^T dU G.
#include "engine/cpu/winograd.h"
#include <omp.h>
#include <algorithm>
#include <cstdlib>
#include <string>
#include "engine/cpu/gemm.h"
#include "engine/cpu/scratch.h"
#include "engine/cpu/winograd_transform.h"

namespace slimssl::cpu {
namespace {

constexpr int kPositions = 36;  // the 6x6 tile positions, one gemm each
constexpr int64_t kLanes = 8;
// Tiles per block (rounded up to whole images): enough rows for each position's gemm to pay for
// packing its filters, few enough that a block's V and M stay in cache. Measured on ResNet-18's
// stages (bench_conv): 48-64 best at 128 channels, where gemm reads V in place (n = Op <= 128),
// 128-192 at 256 channels, where it packs V; the differences were 10-20%.
int64_t block_tiles(int64_t Op) { return Op <= 128 ? 64 : 128; }

// Scratch slots (scratch.h): per thread, except kSlotFilters, which the calling thread fills
// and every thread reads.
constexpr int kSlotTiles = 2, kSlotProducts = 3, kSlotStrip = 4, kSlotFilters = 5;

// The distance between consecutive tile positions' matrices: rows * ld plus one cache line. A
// tile's 36 values are stored (and read back) one per matrix; at distances that are multiples of
// 4 KiB all 36 would fall into one L1 cache set and evict each other.
constexpr int64_t kSkew = 16;
int64_t position_pitch(int64_t rows, int64_t ld) { return rows * ld + kSkew; }

int64_t round_up8(int64_t n) { return (n + kLanes - 1) / kLanes * kLanes; }

struct Tiling {
  int64_t TH, TW, per_image;  // tiles down, across, per image
  int64_t Cp, Op;             // channels rounded up to whole vectors
  int64_t nb, blocks;         // images per block, blocks
  int threads;                // OpenMP threads over blocks (1: blocks in turn, each gemm threaded)
};

Tiling tiling_of(const Winograd3x3& s) {
  Tiling t;
  t.TH = (s.OH + 3) / 4, t.TW = (s.OW + 3) / 4, t.per_image = t.TH * t.TW;
  t.Cp = round_up8(s.C), t.Op = round_up8(s.O);
  const int64_t max_threads = omp_get_max_threads();
  // No more images per block than gives every thread a block of its own.
  const int64_t fair = (s.N + max_threads - 1) / max_threads;
  t.nb = std::clamp<int64_t>((block_tiles(t.Op) + t.per_image - 1) / t.per_image, 1, std::max<int64_t>(fair, 1));
  t.blocks = (s.N + t.nb - 1) / t.nb;
  t.threads = t.blocks >= max_threads ? static_cast<int>(max_threads) : 1;
  return t;
}

// A strip of rows with the channels innermost: dst[r][u][c] = src[c, y0 + r, x0 + u] for
// r < rows, u < width, c < ld, zero outside the h x w planes and for c >= channels. Tiles are
// then read as whole vectors of 8 channels, and a tile's values for all channels lie together,
// so the transforms write (and read) V and M in whole cache lines.
void interleave(const float* src, int64_t plane_stride, int64_t row_stride, int64_t channels, int64_t h, int64_t w,
                int64_t y0, int64_t rows, int64_t x0, int64_t width, int64_t ld, float* dst) {
  std::fill(dst, dst + rows * width * ld, 0.f);
  const int64_t r0 = std::max<int64_t>(-y0, 0), r1 = std::min(rows, h - y0);
  const int64_t u0 = std::max<int64_t>(-x0, 0), u1 = std::min(width, w - x0);
  // Eight channels at a time: eight rows read side by side, one vector stored per position (the
  // other order, a scalar store every ld floats, touched a new cache line with every store).
  for (int64_t cb = 0; cb < channels; cb += kLanes) {
    const int64_t lanes = std::min(kLanes, channels - cb);
    for (int64_t r = r0; r < r1; ++r) {
      const float* row = src + cb * plane_stride + (y0 + r) * row_stride + x0;
      float* d = dst + r * width * ld + cb;
      for (int64_t u = u0; u < u1; ++u) {
        vec8 v = {};
        for (int64_t l = 0; l < lanes; ++l) v[l] = row[l * plane_stride + u];
        store8(d + u * ld, v);
      }
    }
  }
}

// The inverse for output rows: dst[c, r, u] (planes of h x w, contiguous) = strip[r][u][c] for
// c < channels, r < rows, u < w.
void deinterleave(const float* strip, int64_t width, int64_t ld, int64_t channels, int64_t rows, int64_t h,
                  int64_t w, float* dst) {
  for (int64_t cb = 0; cb < channels; cb += kLanes) {
    const int64_t lanes = std::min(kLanes, channels - cb);
    for (int64_t r = 0; r < rows; ++r) {
      const float* s = strip + r * width * ld + cb;
      float* d = dst + (cb * h + r) * w;
      for (int64_t u = 0; u < w; ++u) {
        const vec8 v = load8(s + u * ld);
        for (int64_t l = 0; l < lanes; ++l) d[l * h * w + u] = v[l];
      }
    }
  }
}

// U[x][c][o] = (G w[o, c] G^T)[x], reading w[o, c, k] as w[o * ldw + c * 9 + k]; or, with
// `flipped`, as the forward weight of the conv whose data gradient this is: w[c * ldw + o * 9 + 8 - k]
// (in and out channels swapped, the kernel turned by 180 degrees; see data_gradient_shape).
void transform_filters(const Winograd3x3& s, const Tiling& tl, const float* w, int64_t ldw, bool flipped, float* u) {
  const int64_t pitch = position_pitch(tl.Cp, tl.Op);
#pragma omp parallel for schedule(static) if (tl.Cp * tl.Op >= (int64_t{1} << 16))
  for (int64_t c = 0; c < tl.Cp; ++c)
    for (int64_t ob = 0; ob < tl.Op; ob += kLanes) {
      alignas(32) float g[9][kLanes] = {};
      for (int64_t l = 0; l < kLanes && c < s.C && ob + l < s.O; ++l)
        for (int k = 0; k < 9; ++k)
          g[k][l] = flipped ? w[c * ldw + (ob + l) * 9 + 8 - k] : w[(ob + l) * ldw + c * 9 + k];
      vec8 gv[9], out[kPositions];
      for (int k = 0; k < 9; ++k) gv[k] = load8(g[k]);
      winograd::filter_tile(gv, out);
      for (int x = 0; x < kPositions; ++x) store8(u + x * pitch + c * tl.Op + ob, out[x]);
    }
}

// One row of tiles from a strip (interleave): tile tx is the N x N window at column 4 tx, and
// its 36 transformed values for each 8 channels go to dst[x * pitch + (t + tx) * ld + cb].
template <int N, void (*Tile)(const vec8*, vec8*)>
void transform_row(const Tiling& tl, const float* strip, int64_t width, int64_t ld, int64_t t, float* dst,
                   int64_t pitch) {
  for (int64_t tx = 0; tx < tl.TW; ++tx)
    for (int64_t cb = 0; cb < ld; cb += kLanes) {
      vec8 in[N * N], out[kPositions];
      const float* base = strip + 4 * tx * ld + cb;
      for (int k = 0; k < N; ++k)
        for (int j = 0; j < N; ++j) in[N * k + j] = load8(base + (k * width + j) * ld);
      Tile(in, out);
      float* d = dst + (t + tx) * ld + cb;
      for (int x = 0; x < kPositions; ++x) store8(d + x * pitch, out[x]);
    }
}

// V[x][t0 + tile][c] = (B^T d B)[x] for one image xi (T: the block's tile count, V's row count).
void transform_input(const Winograd3x3& s, const Tiling& tl, const float* xi, int64_t T, int64_t t0, float* v,
                     float* strip) {
  const int64_t width = 4 * tl.TW + 2;
  for (int64_t ty = 0; ty < tl.TH; ++ty) {
    interleave(xi, s.sC, s.sH, s.C, s.H, s.W, 4 * ty - s.pad_h, 6, -s.pad_w, width, tl.Cp, strip);
    transform_row<6, winograd::input_tile>(tl, strip, width, tl.Cp, t0 + ty * tl.TW, v, position_pitch(T, tl.Cp));
  }
}

// y of one image (contiguous [O, OH, OW]) = A^T M A per tile, plus the bias.
void transform_output(const Winograd3x3& s, const Tiling& tl, const float* m, int64_t T, int64_t t0,
                      const float* bias, float* yi, float* strip) {
  const int64_t width = 4 * tl.TW, pitch = position_pitch(T, tl.Op);
  for (int64_t ty = 0; ty < tl.TH; ++ty) {
    for (int64_t tx = 0; tx < tl.TW; ++tx)
      for (int64_t ob = 0; ob < tl.Op; ob += kLanes) {
        alignas(32) float b[kLanes] = {};
        for (int64_t l = 0; bias && l < kLanes && ob + l < s.O; ++l) b[l] = bias[ob + l];
        const vec8 bv = load8(b);
        vec8 mm[kPositions], out[16];
        const float* src = m + (t0 + ty * tl.TW + tx) * tl.Op + ob;
        for (int x = 0; x < kPositions; ++x) mm[x] = load8(src + x * pitch);
        winograd::output_tile(mm, out);
        float* d = strip + 4 * tx * tl.Op + ob;
        for (int q = 0; q < 4; ++q)
          for (int r = 0; r < 4; ++r) store8(d + (q * width + r) * tl.Op, out[4 * q + r] + bv);
      }
    const int64_t rows = std::min<int64_t>(4, s.OH - 4 * ty);
    deinterleave(strip, width, tl.Op, s.O, rows, s.OH, s.OW, yi + 4 * ty * s.OW);
  }
}

// dM[x][t0 + tile][o] = (A gy A^T)[x] for one image's gy (contiguous [O, OH, OW]); the tiles
// past the map's edge see zeros, so they add nothing to the weight gradient.
void transform_output_grad(const Winograd3x3& s, const Tiling& tl, const float* gyi, int64_t T, int64_t t0,
                           float* dm, float* strip) {
  const int64_t width = 4 * tl.TW;
  for (int64_t ty = 0; ty < tl.TH; ++ty) {
    interleave(gyi, s.OH * s.OW, s.OW, s.O, s.OH, s.OW, 4 * ty, 4, 0, width, tl.Op, strip);
    transform_row<4, winograd::output_grad_tile>(tl, strip, width, tl.Op, t0 + ty * tl.TW, dm,
                                                 position_pitch(T, tl.Op));
  }
}

// dw[o, c, :] += G^T dU[:, c, o] G.
void add_filter_gradient(const Winograd3x3& s, const Tiling& tl, const float* du, float* dw, int64_t lddw) {
  const int64_t pitch = position_pitch(tl.Cp, tl.Op);
  for (int64_t c = 0; c < s.C; ++c)
    for (int64_t ob = 0; ob < tl.Op; ob += kLanes) {
      vec8 u[kPositions], g[9];
      for (int x = 0; x < kPositions; ++x) u[x] = load8(du + x * pitch + c * tl.Op + ob);
      winograd::filter_grad_tile(u, g);
      alignas(32) float gs[9][kLanes];
      for (int k = 0; k < 9; ++k) store8(gs[k], g[k]);
      for (int64_t l = 0; l < kLanes && ob + l < s.O; ++l)
        for (int k = 0; k < 9; ++k) dw[(ob + l) * lddw + c * 9 + k] += gs[k][l];
    }
}

// Floats of the strip buffer: 6 rows of input (or 4 of output) with every channel.
int64_t strip_buffer(const Tiling& tl) { return 6 * (4 * tl.TW + 2) * std::max(tl.Cp, tl.Op); }

// SLIMSSL_CONV_WINOGRAD=0 turns the path off, so that a benchmark can time im2col + gemm on the
// same binary (docs/cpu_performance.md's before and after figures).
bool winograd_enabled() {
  static const bool on = [] {
    const char* e = std::getenv("SLIMSSL_CONV_WINOGRAD");
    return !(e && std::string(e) == "0");
  }();
  return on;
}

// The forward pass over blocks of images; `flipped` as for transform_filters.
void forward(const Winograd3x3& s, const float* x, const float* w, int64_t ldw, bool flipped, const float* bias,
             float* y) {
  const Tiling tl = tiling_of(s);
  float* u = scratch<float>(kSlotFilters, kPositions * position_pitch(tl.Cp, tl.Op));
  transform_filters(s, tl, w, ldw, flipped, u);
  const int64_t rows = tl.nb * tl.per_image;
#pragma omp parallel num_threads(tl.threads) if (tl.threads > 1)
  {
    float* v = scratch<float>(kSlotTiles, kPositions * position_pitch(rows, tl.Cp));
    float* m = scratch<float>(kSlotProducts, kPositions * position_pitch(rows, tl.Op));
    float* buf = scratch<float>(kSlotStrip, strip_buffer(tl));
#pragma omp for schedule(static)
    for (int64_t b = 0; b < tl.blocks; ++b) {
      const int64_t first = b * tl.nb, count = std::min(tl.nb, s.N - first), T = count * tl.per_image;
      for (int64_t i = 0; i < count; ++i) transform_input(s, tl, x + (first + i) * s.sN, T, i * tl.per_image, v, buf);
      for (int x = 0; x < kPositions; ++x)
        cpu::gemm(false, false, T, tl.Op, tl.Cp, 1.f, v + x * position_pitch(T, tl.Cp), tl.Cp,
                  u + x * position_pitch(tl.Cp, tl.Op), tl.Op, 0.f, m + x * position_pitch(T, tl.Op), tl.Op);
      for (int64_t i = 0; i < count; ++i)
        transform_output(s, tl, m, T, i * tl.per_image, bias, y + (first + i) * s.O * s.OH * s.OW, buf);
    }
  }
}

}  // namespace

// The rule, from bench_conv on the demo's and ResNet-18's shapes (one thread, GFLOP per CPU-s):
// - the tiles must cut the multiplies at least in half: 36 per 4x4 tile against 9 per output
//   (a 5x5 map takes four tiles, 0.64 of im2col's multiplies; 1x1 and 2x2 maps more than it);
// - at least 16 channels in and out for the forward and data gradient (16 channels at 28 px:
//   78 against 53; at 8 channels the transforms cost what the gemm saves: 46 against 48);
// - at least 32 for the weight gradient, which transforms both x and gy (16 channels at 14 px:
//   37 against 56; 32 channels 70 against 67, at 7 px 75 against 59).
bool winograd_pays(const Winograd3x3& s, bool weight_gradient) {
  const int64_t tiles = (s.OH + 3) / 4 * ((s.OW + 3) / 4);
  const int64_t min_channels = weight_gradient ? 32 : 16;
  return winograd_enabled() && 2 * tiles * 36 <= s.OH * s.OW * 9 && std::min(s.C, s.O) >= min_channels;
}

void winograd_forward(const Winograd3x3& s, const float* x, const float* w, int64_t ldw, const float* bias,
                      float* y) {
  forward(s, x, w, ldw, false, bias, y);
}

Winograd3x3 data_gradient_shape(const Winograd3x3& s) {
  return {s.N, s.O, s.OH, s.OW, s.C, s.H, s.W, 2 - s.pad_h, 2 - s.pad_w, s.O * s.OH * s.OW, s.OH * s.OW, s.OW};
}

void winograd_backward_data(const Winograd3x3& s, const float* gy, const float* w, int64_t ldw, float* dx) {
  forward(data_gradient_shape(s), gy, w, ldw, true, nullptr, dx);
}

void winograd_backward_weight(const Winograd3x3& s, const float* x, const float* gy, float* dw, int64_t lddw) {
  const Tiling tl = tiling_of(s);
  const int64_t rows = tl.nb * tl.per_image, gy_image = s.O * s.OH * s.OW;
#pragma omp parallel num_threads(tl.threads) if (tl.threads > 1)
  {
    float* v = scratch<float>(kSlotTiles, kPositions * position_pitch(rows, tl.Cp));
    float* dm = scratch<float>(kSlotProducts, kPositions * position_pitch(rows, tl.Op));
    float* buf = scratch<float>(kSlotStrip, strip_buffer(tl));
    float* du = scratch<float>(kSlotFilters, kPositions * position_pitch(tl.Cp, tl.Op));  // this thread's sum
    bool any = false;
#pragma omp for schedule(static)
    for (int64_t b = 0; b < tl.blocks; ++b) {
      const int64_t first = b * tl.nb, count = std::min(tl.nb, s.N - first), T = count * tl.per_image;
      for (int64_t i = 0; i < count; ++i) {
        transform_input(s, tl, x + (first + i) * s.sN, T, i * tl.per_image, v, buf);
        transform_output_grad(s, tl, gy + (first + i) * gy_image, T, i * tl.per_image, dm, buf);
      }
      // The first block sets dU (beta 0: the buffer is never cleared), later ones add to it.
      for (int p = 0; p < kPositions; ++p)
        cpu::gemm(true, false, tl.Cp, tl.Op, T, 1.f, v + p * position_pitch(T, tl.Cp), tl.Cp, dm + p * position_pitch(T, tl.Op), tl.Op,
                  any ? 1.f : 0.f, du + p * position_pitch(tl.Cp, tl.Op), tl.Op);
      any = true;
    }
    if (any) {
#pragma omp critical(slimssl_winograd_dw)
      add_filter_gradient(s, tl, du, dw, lddw);
    }
  }
}

}  // namespace slimssl::cpu
