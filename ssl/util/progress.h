// Progress lines for long work: "what: done/total unit (pct) | rate unit/s | ETA 1m05s".
// One line at a time, at most one per `interval` seconds plus the last, each handed whole to a
// line sink that writes and flushes it, so a log file or a pipe shows progress as it happens.
// The trainer's step lines use the same duration format.
#pragma once
#include <cstdint>
#include <functional>
#include <string>

namespace slimssl::util {

// "42s", "3m05s", "1h02m".
std::string format_duration(double seconds);
// "850 images/s", "3.2 epochs/s", "0.25 models/s": three significant figures at most.
std::string format_rate(double per_second, const std::string& unit);

using LineSink = std::function<void(const std::string&)>;
// Whole lines to stdout / stderr, flushed at once.
LineSink stdout_lines();
LineSink stderr_lines();

class Progress {
 public:
  using Clock = std::function<double()>;  // seconds, monotonic
  // `total` <= 0: unknown (no percentage or ETA). An empty sink makes every call a no-op.
  Progress(std::string what, int64_t total, std::string unit, LineSink sink, double interval_s = 5.0,
           Clock clock = {});
  // `done` units so far (absolute); prints when the interval has passed since the last line.
  // Without a total, `fraction` (of the work, 0 to 1; < 0: unknown) gives the percentage and ETA.
  void update(int64_t done, const std::string& note = "", double fraction = -1);
  void add(int64_t n, const std::string& note = "") { update(done_ + n, note); }
  // The last line ("... done in 12s"), whatever the interval.
  void finish(const std::string& note = "");
  // The line for `done` units after `elapsed` seconds (what update and finish print).
  std::string line(int64_t done, double elapsed, bool final, const std::string& note = "", double fraction = -1) const;
  int64_t done() const { return done_; }

 private:
  std::string what_, unit_;
  int64_t total_, done_ = 0;
  LineSink sink_;
  double interval_, start_, last_print_;
  Clock clock_;
  bool finished_ = false;
};

}  // namespace slimssl::util
