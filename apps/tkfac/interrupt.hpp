#pragma once
// Ctrl-C (SIGINT) and SIGTERM during long work: the first one only sets a flag that the work
// polls at safe points (after a training step, after a circuit run: ngspice runs in-process and
// is not stopped half-way); the work then writes what it has and throws Interrupted, which main
// turns into exit code 128 + signal (130 for Ctrl-C). A second signal kills as usual.
//
//   tkfac::cli::StopSignals stop;                  // handlers installed until it goes
//   for (...) { if (stop.requested()) break; ... }
//   if (stop.requested()) throw tkfac::cli::Interrupted(stop.requested());
#include <stdexcept>

namespace tkfac::cli {

class StopSignals {
 public:
  StopSignals();   // installs the handlers (SIGINT, SIGTERM)
  ~StopSignals();  // restores the previous ones
  StopSignals(const StopSignals&) = delete;
  StopSignals& operator=(const StopSignals&) = delete;
  // The signal received (SIGINT, SIGTERM), 0 if none.
  int requested() const;
};

class Interrupted : public std::runtime_error {
 public:
  explicit Interrupted(int signal);
  int signal() const { return signal_; }

 private:
  int signal_;
};

// Training diverged: a step's loss was not finite. The command has written what it could (the
// log; never a checkpoint of non-finite weights); main exits with 4.
class TrainingDiverged : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

}  // namespace tkfac::cli
