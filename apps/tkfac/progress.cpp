#include "progress.hpp"

#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>

namespace tkfac::cli {

namespace {
std::string format_seconds(double s) {
  if (s < 0 || s != s) return "--:--";
  const long t = static_cast<long>(s + 0.5);
  if (t >= 3600) return fmt::format("{}:{:02}:{:02}", t / 3600, (t / 60) % 60, t % 60);
  return fmt::format("{:02}:{:02}", t / 60, t % 60);
}
}  // namespace

ProgressBar::ProgressBar(std::string label, long total)
    : label_(std::move(label)),
      total_(std::max(total, 1L)),
      tty_(::isatty(STDERR_FILENO) != 0),
      start_(std::chrono::steady_clock::now()),
      last_draw_(start_) {}

void ProgressBar::update(long done, const std::string& status, double fraction) {
  draw(done, status, fraction, false);
}

void ProgressBar::finish(const std::string& status, long done) {
  draw(done < 0 ? total_ : done, status, done < 0 ? 1.0 : -1.0, true);
}

void ProgressBar::note(const std::string& text) {
  if (tty_ && drawn_) std::fprintf(stderr, "\r\033[K");
  std::fflush(stderr);
  std::fwrite(text.data(), 1, text.size(), stdout);
  std::fflush(stdout);
  drawn_ = false;
  last_draw_ = start_;  // redraw at the next update
}

void ProgressBar::draw(long done, const std::string& status, double fraction, bool final) {
  const auto now = std::chrono::steady_clock::now();
  const double since_draw = std::chrono::duration<double>(now - last_draw_).count();
  // Redraw at most 10 times a second on a terminal, every 5 s otherwise.
  if (!final && since_draw < (tty_ ? 0.1 : 5.0)) return;
  last_draw_ = now;
  const double elapsed = std::chrono::duration<double>(now - start_).count();
  const double frac = std::clamp(
      fraction >= 0.0 ? fraction : static_cast<double>(done) / static_cast<double>(total_), 0.0,
      1.0);
  // The ETA extrapolates the rate measured since the first update that showed progress, so the
  // start-up (loading, the first circuit's setup) is not taken as the rate of the rest; until a
  // second such point exists it is unknown (--:--).
  double eta = -1.0;
  if (!have_rate_origin_ && frac > 0.0) {
    have_rate_origin_ = true;
    origin_time_ = now;
    origin_fraction_ = frac;
  } else if (have_rate_origin_ && frac > origin_fraction_) {
    const double since = std::chrono::duration<double>(now - origin_time_).count();
    eta = since * (1.0 - frac) / (frac - origin_fraction_);
  }
  constexpr int kWidth = 28;
  const int filled = static_cast<int>(frac * kWidth);
  const std::string bar = std::string(filled, '#') + std::string(kWidth - filled, '.');
  const std::string line = fmt::format("{} [{}] {}/{} {:3.0f}% {} ETA {} {}", label_, bar, done,
                                       total_, 100 * frac, format_seconds(elapsed),
                                       format_seconds(final ? 0.0 : eta), status);
  if (tty_) {
    std::fprintf(stderr, "\r\033[K%s%s", line.c_str(), final ? "\n" : "");
    drawn_ = !final;
  } else {
    std::fprintf(stderr, "%s\n", line.c_str());
  }
  std::fflush(stderr);
}

}  // namespace tkfac::cli
