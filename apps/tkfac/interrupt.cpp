#include "interrupt.hpp"

#include <fmt/format.h>

#include <csignal>
#include <cstring>

namespace tkfac::cli {
namespace {

volatile std::sig_atomic_t g_signal = 0;
struct sigaction g_previous_int, g_previous_term;

extern "C" void on_stop_signal(int signal) { g_signal = signal; }

// ngspice (libngspice 39, in-process) leaves these signals alone: checked with a spice run.
void install() {
  struct sigaction sa;
  std::memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_stop_signal;
  sigemptyset(&sa.sa_mask);
  // The handler runs once: the next signal has its default action (a second Ctrl-C kills).
  sa.sa_flags = SA_RESETHAND | SA_RESTART;
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
}

}  // namespace

StopSignals::StopSignals() {
  g_signal = 0;
  sigaction(SIGINT, nullptr, &g_previous_int);
  sigaction(SIGTERM, nullptr, &g_previous_term);
  install();
}

StopSignals::~StopSignals() {
  sigaction(SIGINT, &g_previous_int, nullptr);
  sigaction(SIGTERM, &g_previous_term, nullptr);
}

int StopSignals::requested() const { return g_signal; }

Interrupted::Interrupted(int signal)
    : std::runtime_error(fmt::format("stopped by {}", signal == SIGTERM ? "SIGTERM" : "SIGINT")),
      signal_(signal) {}

}  // namespace tkfac::cli
