// Winograd F(4x4, 3x3) convolutions (winograd.h): data layouts, blocking over images, threads.
// The transforms themselves are in winograd_transform.h.
//
// Per block of images, tiles numbered t = image * tiles_per_image + ty * TW + tx:
//   V [36][T][Cp]   input tiles after B^T d B                 (Cp: C rounded up to 8 lanes)
//   U [36][Cp][Op]  filters after G g G^T, once per call      (Op: O rounded up to 8)
//   M [36][T][Op]   M_x = V_x @ U_x: one gemm per tile position x, then A^T m A per tile
// Channels are the contiguous dimension so that every transform works on 8 channels per vector
// whatever the map size (a 4x4 map is one tile: vectorizing across tiles would not work there).
// gemm reads each V_x in place (n = Op columns is within its read-in-place limit).
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

using winograd::load8;
using winograd::store8;
using winograd::vec8;

constexpr int kPositions = 36;  // the 6x6 tile positions, one gemm each
constexpr int64_t kLanes = 8;
// Tiles per block (rounded up to whole images): enough rows for each position's gemm to reuse
// its packed filters, few enough that a block's V and M stay in the L3 cache.
constexpr int64_t kBlockTiles = 128;

// Scratch slots (scratch.h): per thread, except kSlotFilters, which the calling thread fills
// and every thread reads.
constexpr int kSlotTiles = 2, kSlotProducts = 3, kSlotPlanes = 4, kSlotFilters = 5;

int64_t round_up8(int64_t n) { return (n + kLanes - 1) / kLanes * kLanes; }

struct Tiling {
  int64_t TH, TW, per_image;  // tiles down, across, per image
  int64_t Cp, Op;             // channels rounded up to whole vectors
  int64_t nb, blocks;         // images per block, blocks
  int threads;                // OpenMP threads to use over blocks (1: gemm threads itself)
};

Tiling tiling_of(const Winograd3x3& s) {
  Tiling t;
  t.TH = (s.OH + 3) / 4, t.TW = (s.OW + 3) / 4, t.per_image = t.TH * t.TW;
  t.Cp = round_up8(s.C), t.Op = round_up8(s.O);
  const int64_t max_threads = omp_get_max_threads();
  // No more images per block than gives every thread a block of its own.
  const int64_t fair = (s.N + max_threads - 1) / max_threads;
  t.nb = std::clamp<int64_t>((kBlockTiles + t.per_image - 1) / t.per_image, 1, std::max<int64_t>(fair, 1));
  t.blocks = (s.N + t.nb - 1) / t.nb;
  t.threads = t.blocks >= max_threads ? static_cast<int>(max_threads) : 1;
  return t;
}

// pad[y][u][l] = plane l of src at (y - oy, u - ox), zero outside the h x w plane and for lanes
// >= `lanes`: eight channels interleaved, so each tile is read as whole vectors.
void interleave(const float* src, int64_t plane_stride, int64_t row_stride, int64_t lanes, int64_t h, int64_t w,
                int64_t oy, int64_t ox, int64_t Hp, int64_t Wp, float* pad) {
  std::fill(pad, pad + Hp * Wp * kLanes, 0.f);
  const int64_t y0 = std::max<int64_t>(oy, 0), y1 = std::min(Hp, h + oy);
  const int64_t u0 = std::max<int64_t>(ox, 0), u1 = std::min(Wp, w + ox);
  for (int64_t l = 0; l < lanes; ++l) {
    const float* plane = src + l * plane_stride;
    for (int64_t y = y0; y < y1; ++y) {
      const float* row = plane + (y - oy) * row_stride - ox;
      float* d = pad + y * Wp * kLanes + l;
      for (int64_t u = u0; u < u1; ++u) d[u * kLanes] = row[u];
    }
  }
}

// The inverse for an output plane: dst plane l (h x w, contiguous) = buf[y][u][l].
void deinterleave(const float* buf, int64_t Wq, int64_t lanes, int64_t h, int64_t w, float* dst) {
  for (int64_t l = 0; l < lanes; ++l)
    for (int64_t y = 0; y < h; ++y) {
      const float* s = buf + y * Wq * kLanes + l;
      float* d = dst + (l * h + y) * w;
      for (int64_t u = 0; u < w; ++u) d[u] = s[u * kLanes];
    }
}

// U[x][c][o] = (G w[o, c] G^T)[x].
void transform_filters(const Winograd3x3& s, const Tiling& tl, const float* w, int64_t ldw, float* u) {
#pragma omp parallel for schedule(static) if (tl.Cp * tl.Op >= 4096)
  for (int64_t c = 0; c < tl.Cp; ++c) {
    for (int64_t ob = 0; ob < tl.Op; ob += kLanes) {
      alignas(32) float g[9][kLanes] = {};
      for (int64_t l = 0; l < kLanes && c < s.C && ob + l < s.O; ++l)
        for (int k = 0; k < 9; ++k) g[k][l] = w[(ob + l) * ldw + c * 9 + k];
      vec8 gv[9], out[kPositions];
      for (int k = 0; k < 9; ++k) gv[k] = load8(g[k]);
      winograd::filter_tile(gv, out);
      for (int x = 0; x < kPositions; ++x) store8(u + (x * tl.Cp + c) * tl.Op + ob, out[x]);
    }
  }
}

// Tile (ty, tx) of an interleaved buffer (interleave; rows of Wp positions) is the N x N window
// at (4 ty, 4 tx); its 36 transformed values go to dst[x * pitch + tile * ld], tiles numbered
// from t0 in row-major order.
template <int N, void (*Tile)(const vec8*, vec8*)>
void transform_tiles(const Tiling& tl, const float* buf, int64_t Wp, int64_t t0, float* dst, int64_t pitch,
                     int64_t ld) {
  for (int64_t ty = 0; ty < tl.TH; ++ty)
    for (int64_t tx = 0; tx < tl.TW; ++tx) {
      vec8 in[N * N], out[kPositions];
      const float* base = buf + (4 * ty * Wp + 4 * tx) * kLanes;
      for (int k = 0; k < N; ++k)
        for (int j = 0; j < N; ++j) in[N * k + j] = load8(base + (k * Wp + j) * kLanes);
      Tile(in, out);
      float* d = dst + (t0 + ty * tl.TW + tx) * ld;
      for (int x = 0; x < kPositions; ++x) store8(d + x * pitch, out[x]);
    }
}

// V[x][t0 + tile][c] = (B^T d B)[x] for one image xi (T: the block's tile count, V's row count).
void transform_input(const Winograd3x3& s, const Tiling& tl, const float* xi, int64_t T, int64_t t0, float* v,
                     float* pad) {
  const int64_t Hp = 4 * tl.TH + 2, Wp = 4 * tl.TW + 2;
  for (int64_t cb = 0; cb < tl.Cp; cb += kLanes) {
    interleave(xi + cb * s.sC, s.sC, s.sH, std::min(kLanes, s.C - cb), s.H, s.W, s.pad_h, s.pad_w, Hp, Wp, pad);
    transform_tiles<6, winograd::input_tile>(tl, pad, Wp, t0, v + cb, T * tl.Cp, tl.Cp);
  }
}

// y of one image (contiguous [O, OH, OW]) = A^T M A per tile, plus the bias.
void transform_output(const Winograd3x3& s, const Tiling& tl, const float* m, int64_t T, int64_t t0,
                      const float* bias, float* yi, float* buf) {
  const int64_t Wq = 4 * tl.TW;
  for (int64_t ob = 0; ob < tl.Op; ob += kLanes) {
    const int64_t lanes = std::min(kLanes, s.O - ob);
    alignas(32) float b[kLanes] = {};
    for (int64_t l = 0; bias && l < lanes; ++l) b[l] = bias[ob + l];
    const vec8 bv = load8(b);
    for (int64_t ty = 0; ty < tl.TH; ++ty)
      for (int64_t tx = 0; tx < tl.TW; ++tx) {
        vec8 mm[kPositions], out[16];
        const float* src = m + (t0 + ty * tl.TW + tx) * tl.Op + ob;
        for (int x = 0; x < kPositions; ++x) mm[x] = load8(src + x * T * tl.Op);
        winograd::output_tile(mm, out);
        float* d = buf + (4 * ty * Wq + 4 * tx) * kLanes;
        for (int q = 0; q < 4; ++q)
          for (int r = 0; r < 4; ++r) store8(d + (q * Wq + r) * kLanes, out[4 * q + r] + bv);
      }
    deinterleave(buf, Wq, lanes, s.OH, s.OW, yi + ob * s.OH * s.OW);
  }
}

// dM[x][t0 + tile][o] = (A gy A^T)[x] for one image's gy (contiguous [O, OH, OW]); the tiles
// past the map's edge see zeros, so they add nothing to the weight gradient.
void transform_output_grad(const Winograd3x3& s, const Tiling& tl, const float* gyi, int64_t T, int64_t t0,
                           float* dm, float* buf) {
  const int64_t Hq = 4 * tl.TH, Wq = 4 * tl.TW, plane = s.OH * s.OW;
  for (int64_t ob = 0; ob < tl.Op; ob += kLanes) {
    interleave(gyi + ob * plane, plane, s.OW, std::min(kLanes, s.O - ob), s.OH, s.OW, 0, 0, Hq, Wq, buf);
    transform_tiles<4, winograd::output_grad_tile>(tl, buf, Wq, t0, dm + ob, T * tl.Op, tl.Op);
  }
}

// dw[o, c, :] += G^T dU[:, c, o] G.
void add_filter_gradient(const Winograd3x3& s, const Tiling& tl, const float* du, float* dw, int64_t lddw) {
  for (int64_t c = 0; c < s.C; ++c)
    for (int64_t ob = 0; ob < tl.Op; ob += kLanes) {
      vec8 u[kPositions], g[9];
      for (int x = 0; x < kPositions; ++x) u[x] = load8(du + (x * tl.Cp + c) * tl.Op + ob);
      winograd::filter_grad_tile(u, g);
      alignas(32) float gs[9][kLanes];
      for (int k = 0; k < 9; ++k) store8(gs[k], g[k]);
      for (int64_t l = 0; l < kLanes && ob + l < s.O; ++l)
        for (int k = 0; k < 9; ++k) dw[(ob + l) * lddw + c * 9 + k] += gs[k][l];
    }
}

int64_t plane_buffer(const Tiling& tl) { return (4 * tl.TH + 2) * (4 * tl.TW + 2) * kLanes; }

// SLIMSSL_CONV_WINOGRAD=0 turns the path off, so that a benchmark can time im2col + gemm on the
// same binary (docs/cpu_performance.md's before and after figures).
bool winograd_enabled() {
  static const bool on = [] {
    const char* e = std::getenv("SLIMSSL_CONV_WINOGRAD");
    return !(e && std::string(e) == "0");
  }();
  return on;
}

}  // namespace

bool winograd_pays(const Winograd3x3& s) { return winograd_enabled() && s.C >= 16 && s.O >= 16; }

void winograd_forward(const Winograd3x3& s, const float* x, const float* w, int64_t ldw, const float* bias,
                      float* y) {
  const Tiling tl = tiling_of(s);
  float* u = scratch<float>(kSlotFilters, kPositions * tl.Cp * tl.Op);
  transform_filters(s, tl, w, ldw, u);
  const int64_t rows = tl.nb * tl.per_image;
#pragma omp parallel num_threads(tl.threads) if (tl.threads > 1)
  {
    float* v = scratch<float>(kSlotTiles, kPositions * rows * tl.Cp);
    float* m = scratch<float>(kSlotProducts, kPositions * rows * tl.Op);
    float* buf = scratch<float>(kSlotPlanes, plane_buffer(tl));
#pragma omp for schedule(static)
    for (int64_t b = 0; b < tl.blocks; ++b) {
      const int64_t first = b * tl.nb, count = std::min(tl.nb, s.N - first), T = count * tl.per_image;
      for (int64_t i = 0; i < count; ++i) transform_input(s, tl, x + (first + i) * s.sN, T, i * tl.per_image, v, buf);
      for (int x = 0; x < kPositions; ++x)
        cpu::gemm(false, false, T, tl.Op, tl.Cp, 1.f, v + x * T * tl.Cp, tl.Cp, u + x * tl.Cp * tl.Op, tl.Op, 0.f,
                  m + x * T * tl.Op, tl.Op);
      for (int64_t i = 0; i < count; ++i)
        transform_output(s, tl, m, T, i * tl.per_image, bias, y + (first + i) * s.O * s.OH * s.OW, buf);
    }
  }
}

void winograd_backward_weight(const Winograd3x3& s, const float* x, const float* gy, float* dw, int64_t lddw) {
  const Tiling tl = tiling_of(s);
  const int64_t rows = tl.nb * tl.per_image, gy_image = s.O * s.OH * s.OW;
#pragma omp parallel num_threads(tl.threads) if (tl.threads > 1)
  {
    float* v = scratch<float>(kSlotTiles, kPositions * rows * tl.Cp);
    float* dm = scratch<float>(kSlotProducts, kPositions * rows * tl.Op);
    float* buf = scratch<float>(kSlotPlanes, plane_buffer(tl));
    float* du = scratch<float>(kSlotFilters, kPositions * tl.Cp * tl.Op);  // this thread's sum
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
        cpu::gemm(true, false, tl.Cp, tl.Op, T, 1.f, v + p * T * tl.Cp, tl.Cp, dm + p * T * tl.Op, tl.Op,
                  any ? 1.f : 0.f, du + p * tl.Cp * tl.Op, tl.Op);
      any = true;
    }
    if (any) {
#pragma omp critical(slimssl_winograd_dw)
      add_filter_gradient(s, tl, du, dw, lddw);
    }
  }
}

}  // namespace slimssl::cpu
