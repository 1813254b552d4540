// Errors: every failure the user can cause is an slimssl::Error whose message names the op
// (or file, or key) and what was expected. The CLI prints it on one line and exits non-zero.
#pragma once
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>
#include <cstdint>

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
std::string shape_str(const std::vector<int64_t>& shape);
// "a, b, c": the known names an error lists.
std::string join_names(const std::vector<std::string>& names);

}  // namespace slimssl

#define SLIMSSL_CHECK(cond, ...)                  \
  do {                                            \
    if (!(cond)) ::slimssl::fail(__VA_ARGS__);    \
  } while (0)
