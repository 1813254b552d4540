// The four transforms of Winograd's F(4x4, 3x3) (Lavin & Gray's formulation), each on eight
// channels at once: one float per lane, one channel per lane. A 6x6 input tile d and a 3x3 filter
// g give the 4x4 output tile
//   y = A^T [ (G g G^T) . (B^T d B) ] A        (. elementwise, over the 36 tile positions)
// with the interpolation points 0, 1, -1, 2, -2 and infinity:
//   B^T = [4  0 -5  0 1 0]   G = [ 1/4     0    0 ]   A^T = [1 1  1 1  1 0]
//         [0 -4 -4  1 1 0]       [-1/6 -1/6 -1/6 ]         [0 1 -1 2 -2 0]
//         [0  4 -4 -1 1 0]       [-1/6  1/6 -1/6 ]         [0 1  1 4  4 0]
//         [0 -2 -1  2 1 0]       [1/24 1/12  1/6 ]         [0 1 -1 8 -8 1]
//         [0  2 -1 -2 1 0]       [1/24 -1/12 1/6 ]
//         [0  4  0 -5 0 1]       [   0    0    1 ]
// The backward passes use the transposes: a gradient dy of the output tile reaches the 36
// products as A dy A^T, and a gradient dU of the transformed filter reaches g as G^T dU G.
//
// Each 2-D transform is its 1-D transform down the columns, then along the rows. Tiles are
// arrays of vec8 in row-major order; the 1-D helpers read n values at stride s and write at
// stride rs, so one helper serves both passes.
#pragma once
#include <cstdint>
#include "engine/cpu/vec8.h"

namespace slimssl::cpu::winograd {

// r = B^T d (six values to six).
inline void input_1d(const vec8* d, int s, vec8* r, int rs) {
  const vec8 d0 = d[0], d1 = d[s], d2 = d[2 * s], d3 = d[3 * s], d4 = d[4 * s], d5 = d[5 * s];
  r[0] = 4.f * d0 - 5.f * d2 + d4;
  r[rs] = (d3 + d4) - 4.f * (d1 + d2);
  r[2 * rs] = (d4 - d3) + 4.f * (d1 - d2);
  r[3 * rs] = (d4 - d2) + 2.f * (d3 - d1);
  r[4 * rs] = (d4 - d2) - 2.f * (d3 - d1);
  r[5 * rs] = 4.f * d1 - 5.f * d3 + d5;
}

// r = A^T m (six values to four).
inline void output_1d(const vec8* m, int s, vec8* r, int rs) {
  const vec8 a = m[s] + m[2 * s], b = m[s] - m[2 * s], c = m[3 * s] + m[4 * s], d = m[3 * s] - m[4 * s];
  r[0] = m[0] + a + c;
  r[rs] = b + 2.f * d;
  r[2 * rs] = a + 4.f * c;
  r[3 * rs] = b + 8.f * d + m[5 * s];
}

// r = A e (four values to six): the output transform's transpose.
inline void output_grad_1d(const vec8* e, int s, vec8* r, int rs) {
  const vec8 a = e[0] + e[2 * s], b = e[s] + e[3 * s];
  const vec8 c = e[0] + 4.f * e[2 * s], d = 2.f * e[s] + 8.f * e[3 * s];
  r[0] = e[0];
  r[rs] = a + b;
  r[2 * rs] = a - b;
  r[3 * rs] = c + d;
  r[4 * rs] = c - d;
  r[5 * rs] = e[3 * s];
}

// r = G g (three values to six).
inline void filter_1d(const vec8* g, int s, vec8* r, int rs) {
  const vec8 q = -(g[0] + g[2 * s]) * (1.f / 6), p = g[0] * (1.f / 24) + g[2 * s] * (1.f / 6);
  r[0] = g[0] * 0.25f;
  r[rs] = q - g[s] * (1.f / 6);
  r[2 * rs] = q + g[s] * (1.f / 6);
  r[3 * rs] = p + g[s] * (1.f / 12);
  r[4 * rs] = p - g[s] * (1.f / 12);
  r[5 * rs] = g[2 * s];
}

// r = G^T u (six values to three): the filter transform's transpose.
inline void filter_grad_1d(const vec8* u, int s, vec8* r, int rs) {
  const vec8 s12 = u[s] + u[2 * s], s34 = u[3 * s] + u[4 * s];
  r[0] = u[0] * 0.25f - s12 * (1.f / 6) + s34 * (1.f / 24);
  r[rs] = (u[2 * s] - u[s]) * (1.f / 6) + (u[3 * s] - u[4 * s]) * (1.f / 12);
  r[2 * rs] = (s34 - s12) * (1.f / 6) + u[5 * s];
}

// A 2-D transform of an N x N tile into an M x M one: the 1-D transform F (N values to M) down
// every column, then along every row of the result. Row-major in and out.
template <int N, int M, void (*F)(const vec8*, int, vec8*, int)>
inline void tile_2d(const vec8* in, vec8* out) {
  vec8 t[M * N];  // [M][N]
  for (int j = 0; j < N; ++j) F(in + j, N, t + j, N);
  for (int i = 0; i < M; ++i) F(t + N * i, 1, out + M * i, 1);
}

inline void input_tile(const vec8* d, vec8* v) { tile_2d<6, 6, input_1d>(d, v); }                 // B^T d B
inline void output_tile(const vec8* m, vec8* y) { tile_2d<6, 4, output_1d>(m, y); }               // A^T m A
inline void output_grad_tile(const vec8* e, vec8* m) { tile_2d<4, 6, output_grad_1d>(e, m); }     // A e A^T
inline void filter_tile(const vec8* g, vec8* u) { tile_2d<3, 6, filter_1d>(g, u); }               // G g G^T
inline void filter_grad_tile(const vec8* u, vec8* g) { tile_2d<6, 3, filter_grad_1d>(u, g); }     // G^T u G

}  // namespace slimssl::cpu::winograd
