// Text that comes from a file (a tensor name, a JSON fragment, a metadata value), made fit for a
// one-line error message: control bytes become '?', and past `max` bytes it is cut with "...".
#pragma once
#include <string>

namespace slimssl {

inline std::string printable(const std::string& text, size_t max = 200) {
  std::string s = text.size() > max ? text.substr(0, max) + "..." : text;
  for (char& ch : s)
    if (static_cast<unsigned char>(ch) < 0x20 || ch == 0x7f) ch = '?';
  return s;
}

}  // namespace slimssl
