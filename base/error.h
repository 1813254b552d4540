// Errors: every failure the user can cause is an slimssl::Error whose message names the op
// (or file, or key) and what was expected. The CLI prints it on one line and exits non-zero.
// Host code only.
#pragma once
#include <cstdint>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

namespace slimssl {

struct Error : std::runtime_error {
  using std::runtime_error::runtime_error;
};

namespace detail {
inline void put(std::ostringstream&) {}
template <class T, class... R>
void put(std::ostringstream& os, const T& v, const R&... rest) {
  os << v;
  put(os, rest...);
}
}  // namespace detail

template <class... A>
[[noreturn]] void fail(const A&... parts) {
  std::ostringstream os;
  detail::put(os, parts...);
  throw Error(os.str());
}

// "[2, 3, 4]": shapes appear in almost every message.
inline std::string shape_str(const std::vector<int64_t>& shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + "]";
}

// "a, b, c": the known names an error lists.
inline std::string join_names(const std::vector<std::string>& names) {
  std::string s;
  for (auto& n : names) s += (s.empty() ? "" : ", ") + n;
  return s;
}

}  // namespace slimssl

#define SLIMSSL_CHECK(cond, ...)                  \
  do {                                            \
    if (!(cond)) ::slimssl::fail(__VA_ARGS__);    \
  } while (0)
