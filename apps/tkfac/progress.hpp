#pragma once
// A one-line progress bar on stderr for long work: fraction done, elapsed time, ETA and a
// caller-supplied status (e.g. "loss 0.412 acc 85.1%"). Redraws in place on a terminal; when
// stderr is not a terminal (CI, pipes) it prints a plain line at most every few seconds.
//
//   tkfac::cli::ProgressBar bar("train", total_steps);
//   for (...) { ...; bar.update(step + 1, fmt::format("loss {:.3f}", loss)); }
//   bar.finish();
// update(done, status, fraction) draws `fraction` (e.g. of the circuit work, which dominates a
// circuit run's time) instead of done / total, and bases the ETA on it (the rate measured from
// the first update that showed progress on; --:-- until then); note(text) prints a line
// on stdout without tearing the bar.
#include <chrono>
#include <string>

namespace tkfac::cli {

class ProgressBar {
 public:
  ProgressBar(std::string label, long total);
  void update(long done, const std::string& status = {}, double fraction = -1.0);
  // Ends the line; `done` >= 0: work stopped there (e.g. interrupted) instead of at total.
  void finish(const std::string& status = {}, long done = -1);
  void note(const std::string& text);

 private:
  void draw(long done, const std::string& status, double fraction, bool final);
  std::string label_;
  long total_;
  bool tty_;
  std::chrono::steady_clock::time_point start_;
  std::chrono::steady_clock::time_point last_draw_;
  bool drawn_ = false;  // a line is on the terminal, not ended
  // Where the ETA's rate is measured from (the first update with progress).
  bool have_rate_origin_ = false;
  std::chrono::steady_clock::time_point origin_time_;
  double origin_fraction_ = 0.0;
};

}  // namespace tkfac::cli
