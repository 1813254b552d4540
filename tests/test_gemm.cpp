// cpu::gemm (blocked float32 and reference float64) against a naive triple loop in double:
// odd sizes that leave partial register tiles and cross the cache blocks, all four transpose
// cases, leading dimensions wider than the matrix (padding poisoned with NaN, so reading it
// shows), and beta 0 / 1 / 0.5 (beta 0 must overwrite a NaN-filled C without reading it).
#include <catch2/catch.hpp>
#include <cmath>
#include <limits>
#include <random>
#include <sstream>
#include <vector>
#include "engine/cpu/gemm.h"

using slimssl::cpu::gemm;
using slimssl::cpu::gemm_ref;

namespace {

constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();

// A rows x cols row-major matrix inside a buffer with leading dimension ld (padding = NaN).
template <class T>
std::vector<T> random_matrix(int64_t rows, int64_t cols, int64_t ld, std::mt19937& gen) {
  std::uniform_real_distribution<double> u(-1.0, 1.0);
  std::vector<T> v(static_cast<size_t>(std::max<int64_t>(rows * ld, 1)), static_cast<T>(kNaN));
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c = 0; c < cols; ++c) v[r * ld + c] = static_cast<T>(u(gen));
  return v;
}

struct Case {
  int64_t m, n, k;
  bool ta, tb;
  double alpha, beta;
  int64_t pad;  // extra columns in every leading dimension
};

std::string describe(const Case& c) {
  std::ostringstream os;
  os << "m=" << c.m << " n=" << c.n << " k=" << c.k << " ta=" << c.ta << " tb=" << c.tb
     << " alpha=" << c.alpha << " beta=" << c.beta << " pad=" << c.pad;
  return os.str();
}

// Runs one case and returns the number of elements outside tolerance (0 = pass). Also checks that
// C's padding columns were not written.
template <class T>
int64_t run_case(const Case& cs, void (*fn)(bool, bool, int64_t, int64_t, int64_t, T, const T*, int64_t,
                                            const T*, int64_t, T, T*, int64_t)) {
  std::mt19937 gen(static_cast<uint32_t>(cs.m * 1000003 + cs.n * 1009 + cs.k * 7 + cs.ta * 2 + cs.tb));
  // Stored shapes: A is [m, k] or [k, m] (trans), B is [k, n] or [n, k] (trans).
  const int64_t a_rows = cs.ta ? cs.k : cs.m, a_cols = cs.ta ? cs.m : cs.k;
  const int64_t b_rows = cs.tb ? cs.n : cs.k, b_cols = cs.tb ? cs.k : cs.n;
  const int64_t lda = a_cols + cs.pad, ldb = b_cols + cs.pad, ldc = cs.n + cs.pad;
  auto a = random_matrix<T>(a_rows, a_cols, lda, gen);
  auto b = random_matrix<T>(b_rows, b_cols, ldb, gen);
  auto c = random_matrix<T>(cs.m, cs.n, ldc, gen);
  if (cs.beta == 0.0)  // beta 0: C's old contents must be ignored, even NaN
    for (int64_t i = 0; i < cs.m; ++i)
      for (int64_t j = 0; j < cs.n; ++j) c[i * ldc + j] = static_cast<T>(kNaN);
  const std::vector<T> c0 = c;

  fn(cs.ta, cs.tb, cs.m, cs.n, cs.k, static_cast<T>(cs.alpha), a.data(), lda, b.data(), ldb,
     static_cast<T>(cs.beta), c.data(), ldc);

  const double unit = std::numeric_limits<T>::epsilon();
  int64_t bad = 0;
  for (int64_t i = 0; i < cs.m; ++i) {
    for (int64_t j = 0; j < cs.n; ++j) {
      double dot = 0, absdot = 0;
      for (int64_t p = 0; p < cs.k; ++p) {
        double av = cs.ta ? a[p * lda + i] : a[i * lda + p];
        double bv = cs.tb ? b[j * ldb + p] : b[p * ldb + j];
        dot += av * bv;
        absdot += std::abs(av * bv);
      }
      double want = cs.alpha * dot, scale = std::abs(cs.alpha) * absdot;
      if (cs.beta != 0.0) {
        want += cs.beta * c0[i * ldc + j];
        scale += std::abs(cs.beta * c0[i * ldc + j]);
      }
      // The worst-case rounding bound of a length-k sum in T, with a 2x margin.
      double tol = 2.0 * (cs.k + 2) * unit * scale + 1e-30;
      double got = c[i * ldc + j];
      if (!(std::abs(got - want) <= tol)) {
        if (bad < 3) UNSCOPED_INFO(describe(cs) << ": C[" << i << "," << j << "] = " << got << ", want " << want);
        ++bad;
      }
    }
    for (int64_t j = cs.n; j < ldc; ++j)
      if (!std::isnan(static_cast<double>(c[i * ldc + j]))) {
        UNSCOPED_INFO(describe(cs) << ": padding C[" << i << "," << j << "] was written");
        ++bad;
      }
  }
  return bad;
}

}  // namespace

TEST_CASE("float32 gemm matches a naive double loop: odd sizes, transposes, ld, beta", "[gemm]") {
  const int64_t sizes[] = {1, 7, 33, 257};
  int64_t failures = 0, cases = 0;
  for (int64_t m : sizes)
    for (int64_t n : sizes)
      for (int64_t k : sizes)
        for (int t = 0; t < 4; ++t)
          for (double beta : {0.0, 1.0, 0.5}) {
            Case cs{m, n, k, (t & 1) != 0, (t & 2) != 0, beta == 1.0 ? -1.5 : 1.0, beta, (m + n + k) % 2 ? 3 : 0};
            failures += run_case<float>(cs, gemm) ? 1 : 0;
            ++cases;
          }
  INFO(failures << " of " << cases << " cases failed");
  CHECK(failures == 0);
}

TEST_CASE("float32 gemm crosses every cache block (MC, KC, NC) and the parallel path", "[gemm]") {
  // 150 rows > MC (144), 520 > 2*KC (256), 4100 columns > NC (4096): every edge of the blocking.
  for (int t = 0; t < 4; ++t) {
    CHECK(run_case<float>({150, 37, 520, (t & 1) != 0, (t & 2) != 0, 0.75, 0.5, 5}, gemm) == 0);
    CHECK(run_case<float>({13, 4100, 9, (t & 1) != 0, (t & 2) != 0, 1.0, 0.0, 2}, gemm) == 0);
  }
}

TEST_CASE("float32 gemm reading a row-major operand in place (few slivers on the other side)", "[gemm]") {
  // n <= 128: A is read in place (full 6-row slivers) and the 4-row edge sliver packed; m <= 18:
  // B is read in place for full 16-column slivers. Padding is NaN, so an overrun shows.
  for (double beta : {0.0, 0.5}) {
    CHECK(run_case<float>({40, 16, 300, false, false, 1.0, beta, 3}, gemm) == 0);
    CHECK(run_case<float>({40, 45, 700, false, false, 1.0, beta, 1}, gemm) == 0);
    CHECK(run_case<float>({16, 70, 300, false, false, 1.0, beta, 3}, gemm) == 0);
    CHECK(run_case<float>({16, 4608, 512, true, false, 1.0, beta, 0}, gemm) == 0);
  }
}

TEST_CASE("float32 gemm on the shapes that pick the 4 x 24 and 12 x 8 register tiles", "[gemm]") {
  // m = 16 pads least in 4-row tiles (B read in place, 4 slivers of A); n = 8 in 8-column tiles
  // (A read in place, twelve rows walked side by side), with edge tiles on 61 rows and 101
  // columns. All four transposes, both betas.
  for (int t = 0; t < 4; ++t)
    for (double beta : {0.0, 0.5}) {
      const bool ta = (t & 1) != 0, tb = (t & 2) != 0;
      CHECK(run_case<float>({16, 100, 300, ta, tb, 1.0, beta, 3}, gemm) == 0);
      CHECK(run_case<float>({16, 101, 37, ta, tb, 1.0, beta, 0}, gemm) == 0);
      CHECK(run_case<float>({60, 8, 300, ta, tb, 1.0, beta, 1}, gemm) == 0);
      CHECK(run_case<float>({61, 8, 520, ta, tb, -0.5, beta, 2}, gemm) == 0);
      CHECK(run_case<float>({144, 4, 784, ta, tb, 1.0, beta, 0}, gemm) == 0);
    }
}

TEST_CASE("gemm with k == 0 or alpha == 0 only scales C", "[gemm]") {
  std::vector<float> c = {1, 2, 3, 4};
  float dummy = kNaN;  // never read
  gemm(false, false, 2, 2, 0, 1.f, &dummy, 1, &dummy, 1, 0.5f, c.data(), 2);
  CHECK(c == std::vector<float>{0.5f, 1.f, 1.5f, 2.f});
  std::vector<float> a(4, kNaN);
  gemm(false, true, 2, 2, 2, 0.f, a.data(), 2, a.data(), 2, 0.f, c.data(), 2);
  CHECK(c == std::vector<float>{0.f, 0.f, 0.f, 0.f});
}

TEST_CASE("gemm refuses a leading dimension shorter than a row", "[gemm]") {
  std::vector<float> a(64), b(64), c(64);
  CHECK_THROWS_WITH(gemm(false, false, 4, 4, 4, 1.f, a.data(), 3, b.data(), 4, 0.f, c.data(), 4),
                    Catch::Contains("lda = 3") && Catch::Contains("4 columns"));
  CHECK_THROWS_WITH(gemm(false, true, 4, 5, 3, 1.f, a.data(), 3, b.data(), 2, 0.f, c.data(), 5),
                    Catch::Contains("ldb = 2"));
  CHECK_THROWS_WITH(gemm(true, false, 2, 6, 3, 1.f, a.data(), 2, b.data(), 6, 0.f, c.data(), 5),
                    Catch::Contains("ldc = 5"));
  // A single row has no second row to step to: any leading dimension will do.
  CHECK_NOTHROW(gemm(false, false, 1, 4, 4, 1.f, a.data(), 1, b.data(), 4, 0.f, c.data(), 1));
}

TEST_CASE("float64 gemm (the reference) matches a naive double loop", "[gemm]") {
  for (int t = 0; t < 4; ++t)
    for (double beta : {0.0, 1.0, 0.5}) {
      CHECK(run_case<double>({7, 33, 17, (t & 1) != 0, (t & 2) != 0, 1.25, beta, 2}, gemm) == 0);
      CHECK(run_case<float>({9, 5, 31, (t & 1) != 0, (t & 2) != 0, 1.0, beta, 1}, gemm_ref) == 0);
    }
}
