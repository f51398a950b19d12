#pragma once
// One ngspice instance (the shared library, in-process), behind a small C++ class.
//
//   tkfac::cosim::Session session;                 // at most one live Session per process
//   session.load(tkfac::netlist_gen::to_spice(nl));
//   auto r = session.run({.nodes = {"x0", "x1"}});   // streams accepted points, then cleans up
//   double v0 = r.final_values[0];
//
// ngspice reports most errors as text, not return codes: every `stderr` line of a call is
// collected and turned into a SimulationError carrying ngspice's own words. Misuse (no circuit
// loaded, a node the circuit lacks, a non-finite value) is an InputError.
//
// The library is loaded with dlopen by the first Session and kept for later ones. When ngspice
// stops on an unrecoverable error (its ControlledExit callback), the Session unloads it and loads
// it afresh: the call throws, the circuit is gone, and the Session can load another.
// Not thread-safe: one Session, used from one thread at a time.
#include <memory>
#include <Eigen/Dense>
#include <functional>
#include <string>
#include <vector>

namespace tkfac::cosim {

struct RunOptions {
  // Node voltages to record, by node name (as in the netlist, e.g. "x0").
  std::vector<std::string> nodes;
  // Time-weighted mean of each node over [window_start, end of run] (accepted points are not
  // evenly spaced, so each interval is weighted by its length; trapezoidal rule). The window
  // starts no earlier than the first accepted point (with `uic` that is the first time step, not
  // t = 0). A window starting after the end is empty; its mean is then the final value.
  double window_start = 0.0;
  // Called at every accepted time point with the recorded node voltages, in `nodes` order.
  // If it throws, it is not called again, the run still finishes (ngspice cannot be stopped
  // from inside a callback), and then the exception reaches the caller of run().
  // It must not call the Session.
  std::function<void(double time, const Eigen::VectorXd& values)> observer;
};

struct RunResult {
  Eigen::VectorXd final_values;  // at the last accepted point
  Eigen::VectorXd window_mean;   // see RunOptions::window_start
  double final_time = 0.0;       // simulated analog seconds
  long accepted_points = 0;
  double wall_seconds = 0.0;
};

class Session {
 public:
  // Throws SimulationError if another Session is alive in this process (ngspice keeps global
  // state; two instances crash) or if the library cannot be initialized.
  Session();
  ~Session();
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

  // Loads a circuit from text (title first, ends with .end). Any previous circuit is removed.
  // `.control` blocks and `.meas` statements are ignored (the Session runs the analysis and
  // reads the points itself); line numbers in ngspice's messages are those of `netlist_text`.
  void load(const std::string& netlist_text);
  // Sets the DC value of an independent source of the loaded circuit (`alter <element> dc=...`).
  void alter_dc(const std::string& element, double value);
  // Runs the transient analysis of the loaded circuit and streams its accepted points.
  RunResult run(const RunOptions& options);
  // Removes the loaded circuit and its plots (remcirc, destroy all).
  void remove_circuit();

  // Everything ngspice printed since construction (stdout and stderr lines, each prefixed as
  // ngspice sends it), for diagnostics. Only the most recent 1000 to 2000 lines are kept.
  const std::vector<std::string>& log() const;

  struct Impl;

 private:
  Impl* impl_;
};

// The process's one Session, shared by every spice solver alive (and by other users such as the
// Python module's relax): created on first use, destroyed when the last holder lets go.
std::shared_ptr<Session> shared_session();

// Removes a session's loaded circuit at the end of a scope, however the scope ends. A failure of
// the removal itself is swallowed: it must not hide the error that ended the scope.
//
//   session.load(text);
//   const tkfac::cosim::CircuitGuard guard(session);
//   auto r = session.run(options);
class CircuitGuard {
 public:
  explicit CircuitGuard(Session& session) : session_(session) {}
  ~CircuitGuard();
  CircuitGuard(const CircuitGuard&) = delete;
  CircuitGuard& operator=(const CircuitGuard&) = delete;

 private:
  Session& session_;
};

}  // namespace tkfac::cosim
