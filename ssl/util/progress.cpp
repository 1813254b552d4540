#include "ssl/util/progress.h"
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>

namespace slimssl::util {

std::string format_duration(double s) {
  char buf[32];
  s = std::max(0.0, s);
  if (s < 60) std::snprintf(buf, sizeof buf, "%.0fs", s);
  else if (s < 3600) std::snprintf(buf, sizeof buf, "%dm%02ds", int(s) / 60, int(s) % 60);
  else std::snprintf(buf, sizeof buf, "%dh%02dm", int(s) / 3600, int(s) % 3600 / 60);
  return buf;
}

std::string format_rate(double per_second, const std::string& unit) {
  char buf[48];
  if (per_second >= 100) std::snprintf(buf, sizeof buf, "%.0f", per_second);
  else if (per_second >= 10) std::snprintf(buf, sizeof buf, "%.1f", per_second);
  else if (per_second >= 1) std::snprintf(buf, sizeof buf, "%.2f", per_second);
  else std::snprintf(buf, sizeof buf, "%.3g", per_second);
  return std::string(buf) + " " + unit + "/s";
}

namespace {
LineSink lines_to(std::FILE* f) {
  return [f](const std::string& line) {
    std::fprintf(f, "%s\n", line.c_str());
    std::fflush(f);
  };
}
}  // namespace

LineSink stdout_lines() { return lines_to(stdout); }
LineSink stderr_lines() { return lines_to(stderr); }

Progress::Progress(std::string what, int64_t total, std::string unit, LineSink sink, double interval_s, Clock clock)
    : what_(std::move(what)), unit_(std::move(unit)), total_(total), sink_(std::move(sink)), interval_(interval_s),
      clock_(std::move(clock)) {
  if (!clock_)
    clock_ = [] { return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count(); };
  start_ = last_print_ = clock_();
}

std::string Progress::line(int64_t done, double elapsed, bool final, const std::string& note, double fraction) const {
  std::string s = what_ + ": " + std::to_string(done);
  if (total_ > 0) {
    s += "/" + std::to_string(total_);
    fraction = static_cast<double>(done) / static_cast<double>(total_);
  }
  s += " " + unit_;
  if (!final && fraction >= 0) {
    char pct[16];
    std::snprintf(pct, sizeof pct, " (%.0f%%)", 100.0 * std::min(fraction, 1.0));
    s += pct;
  }
  if (!note.empty()) s += " | " + note;
  double rate = elapsed > 0 ? static_cast<double>(done) / elapsed : 0.0;
  if (rate > 0) s += " | " + format_rate(rate, unit_);
  if (final) s += " | done in " + format_duration(elapsed);
  else if (fraction > 0 && fraction < 1 && elapsed > 0) s += " | ETA " + format_duration(elapsed * (1 - fraction) / fraction);
  return s;
}

void Progress::update(int64_t done, const std::string& note, double fraction) {
  done_ = done;
  if (!sink_ || finished_) return;
  double now = clock_();
  if (now - last_print_ < interval_) return;
  last_print_ = now;
  sink_(line(done_, now - start_, false, note, fraction));
}

void Progress::finish(const std::string& note) {
  if (!sink_ || finished_) return;
  finished_ = true;
  sink_(line(done_, clock_() - start_, true, note));
}

}  // namespace slimssl::util
