#include "tkfac/cosim/session.hpp"

#include <fmt/format.h>

#include <cctype>
#include <chrono>
#include <cmath>
#include <exception>
#include <locale.h>
#include <memory>
#include <mutex>
#include <string_view>
#include <unordered_map>

#include "ngspice_library.hpp"
#include "tkfac/core/error.hpp"

// What ngspice 39.3 does, as seen on Debian 12 (the tests in tests/cosim_test.cpp pin most of it):
// - Errors are text: ngSpice_Circ and ngSpice_Command return 0 on nearly every error. Lines come
//   through SendChar prefixed "stdout " or "stderr "; stderr also carries warnings and notes
//   ("Warning: singular matrix: check node a", gmin stepping notes) after which a run succeeds,
//   so only some stderr lines mean failure (see is_failure_line).
// - Node voltages reach SendData under the node's lowercase name ("x0", not "V(x0)"); the scale
//   is "time" (is_scale set); source currents are "v1#branch". With `uic` the first point is the
//   first step (t = 1e-9 for the 2x2 test circuit), not t = 0.
// - `save none` (a command or a .save line) sets a flag in outitf.c that is never reset: from then
//   on every vector keeps only its last point, while SendData still receives every vector at every
//   accepted point. The Session sends it after each load, so nothing piles up in memory.
//   A side effect: `.meas` cannot work after `save none` ("out of interval ... failed!").
// - `alter <name> dc = <value>` and `alter <name> <value>` both work for V and I sources; the
//   value is parsed as a vector expression (a bad one gives "Error: no such vector abc").
// - A `.control` block in a netlist is executed by ngSpice_Circ itself (including `run`, `quit`).
// - ControlledExit fires on unrecoverable errors (e.g. a missing "}" or ".ends", `quit`); then
//   ngspice longjmps back into ngSpice_Circ/ngSpice_Command. Calling ngSpice_Init again in the same
//   image segfaults, so recovery means unloading and loading the library (ngspice_library.cpp).
// - `show` of sources segfaulted after an `alter`; this file never sends it.
// - With the variable `interactive` set, a numparam error waits for "y/n" on stdin: unset it.
// - Cost of a noiseless run (n = 50 behavioral, measured with perf): nearly all of it is in the
//   per-point work, two Newton iterations each (NIiter never accepts the first), i.e. two sparse
//   LU factorizations (~60%) and two loads of the n^2 VCCS (~20%); `alter` (~3 us each),
//   `destroy all`, SendData copying and the run's own setup are each under a few percent. So the
//   number of accepted points is what to cut (netlist_gen::plan_final_state).
// - Step control: the first step is min(TSTOP / 100, TSTEP) / 100, a step at most doubles the
//   previous one, and a breakpoint sits at TSTEP (the step after it is cut to a tenth); PWL
//   corners are breakpoints too. `.options klu` is not available in Debian's build (no effect).

namespace tkfac::cosim {

namespace {

// ngSpice_Command copies its argument into a 1024-byte buffer with strncpy: 1023 characters
// and the terminating NUL fit, a longer command is cut and left unterminated.
constexpr std::size_t kMaxCommandLength = 1023;
// log() keeps the most recent lines only, so that a long training loop cannot exhaust memory.
constexpr std::size_t kMaxLogLines = 2000;

std::string to_lower(std::string_view s) {
  std::string r(s);
  for (char& c : r) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return r;
}

std::string_view trim(std::string_view s) {
  const auto first = s.find_first_not_of(" \t\r\n");
  if (first == std::string_view::npos) return {};
  const auto last = s.find_last_not_of(" \t\r\n");
  return s.substr(first, last - first + 1);
}

bool starts_with_ci(std::string_view s, std::string_view prefix) {
  if (s.size() < prefix.size()) return false;
  for (std::size_t i = 0; i < prefix.size(); ++i)
    if (std::tolower(static_cast<unsigned char>(s[i])) !=
        std::tolower(static_cast<unsigned char>(prefix[i])))
      return false;
  return true;
}

// Whether ngspice's "stderr" line says the call failed. ngspice also writes warnings and notes
// to stderr, after which it carries on successfully; those lines start with "Warning" or "Note".
// Failures seen in 39.3: "Error: ..." / "Error on line N ..." / "ERROR, ..." (parser, alter,
// .end missing), "doAnalyses: TRAN:  Timestep too small; ...", "run simulation(s) aborted",
// "run simulation not started" (no analysis), "could not find a valid modelname".
bool is_failure_line(std::string_view line) {
  const std::string l = to_lower(trim(line));
  if (l.rfind("warning", 0) == 0 || l.rfind("note", 0) == 0) return false;
  for (const char* key : {"error", "aborted", "not started", "not parsed", "too small",
                          "cannot recover", "could not find", "unknown parameter"})
    if (l.find(key) != std::string::npos) return true;
  return false;
}

// Node names are matched like ngspice matches them: case-insensitively, and "v(x0)" means "x0".
std::string normalize_node_name(std::string_view name) {
  std::string n = to_lower(trim(name));
  if (n.size() > 3 && n.rfind("v(", 0) == 0 && n.back() == ')') n = n.substr(2, n.size() - 3);
  return std::string(trim(n));
}

// Runs its scope under the C locale on this thread (uselocale), so that ngspice parses and prints
// numbers with '.' whatever the program's global locale is.
class CLocaleScope {
 public:
  CLocaleScope() {
    static const locale_t c_locale = newlocale(LC_ALL_MASK, "C", static_cast<locale_t>(nullptr));
    if (c_locale != static_cast<locale_t>(nullptr)) previous_ = uselocale(c_locale);
  }
  ~CLocaleScope() {
    if (previous_ != static_cast<locale_t>(nullptr)) uselocale(previous_);
  }
  CLocaleScope(const CLocaleScope&) = delete;
  CLocaleScope& operator=(const CLocaleScope&) = delete;

 private:
  locale_t previous_ = static_cast<locale_t>(nullptr);
};

// Splits a netlist into the lines given to ngSpice_Circ. Line numbers stay those of the text
// (ngspice's "Error on line N" then points into the caller's text): lines are replaced by "*"
// comments rather than dropped, since ngSpice_Circ itself skips empty lines.
// - An empty first line would let ngSpice_Circ take the next line as the title: give a title.
// - `.control` ... `.endc` is blanked: ngSpice_Circ would run it at once (`run`, `quit`, ...),
//   behind the Session's back. The Session drives the analysis itself.
// - `.meas` lines (and their '+' continuations) are blanked: after `save none` they can only fail.
struct Deck {
  std::vector<std::string> lines;
  int blanked = 0;
  bool has_content = false;
};

Deck make_deck(const std::string& text) {
  Deck deck;
  std::size_t start = 0;
  bool in_control = false;
  bool in_meas = false;
  while (start <= text.size()) {
    std::size_t end = text.find('\n', start);
    if (end == std::string::npos) end = text.size();
    std::string line = text.substr(start, end - start);
    if (!line.empty() && line.back() == '\r') line.pop_back();
    start = end + 1;
    const std::string_view t = trim(line);
    if (deck.lines.empty()) {
      if (!t.empty()) deck.has_content = true;
      deck.lines.push_back(t.empty() ? std::string("* untitled") : line);
      continue;
    }
    if (!t.empty()) deck.has_content = true;
    if (in_control) {
      if (starts_with_ci(t, ".endc")) in_control = false;
      deck.lines.emplace_back("*");
      ++deck.blanked;
      continue;
    }
    if (in_meas && !t.empty() && t.front() == '+') {
      deck.lines.emplace_back("*");
      ++deck.blanked;
      continue;
    }
    in_meas = false;
    if (starts_with_ci(t, ".control")) {
      in_control = true;
      deck.lines.emplace_back("*");
      ++deck.blanked;
    } else if (starts_with_ci(t, ".meas")) {
      in_meas = true;
      deck.lines.emplace_back("*");
      ++deck.blanked;
    } else {
      deck.lines.push_back(t.empty() ? std::string("*") : line);
    }
  }
  return deck;
}

// The streamed statistics of one run.
struct RunState {
  const RunOptions* options = nullptr;
  std::vector<std::string> wanted;  // normalized names, in options->nodes order
  std::vector<int> index;           // position of each wanted vector in SendData's array
  int scale_index = -1;
  bool in_tran_plot = false;
  bool resolved = false;
  std::string plot_types;           // every plot ngspice started, for error messages
  std::vector<std::string> missing;
  std::vector<std::string> available;
  Eigen::VectorXd values, previous, integral;
  double previous_time = 0.0;
  double window_begin = 0.0;  // where integration actually started
  bool integrating = false;
  bool have_previous = false;
  double time = 0.0;
  long points = 0;
  std::exception_ptr observer_error;
};

}  // namespace

// ---------------------------------------------------------------------------------------------
// Process-wide state: the library image, and which Session (if any) owns it.

struct Session::Impl {
  // Callbacks (forwarded from the static functions below).
  void on_char(const char* text);
  void on_exit(int status, bool quit);
  void on_init_data(pvecinfoall info);
  void on_data(pvecvaluesall data);

  // One call into the library; collects its stderr lines; handles ControlledExit (throws).
  template <class F>
  int call(std::string_view what, F&& f);
  // Sends a command; throws SimulationError if ngspice reports a failure.
  void command(const std::string& text, std::string_view what);
  // Same, but never throws (cleanup paths).
  void command_quietly(const std::string& text) noexcept;
  void configure();
  void check_usable() const;
  [[noreturn]] void fail(std::string_view what, const std::vector<std::string>& failures) const;
  std::vector<std::string> failure_lines() const;

  void load(const std::string& text);
  void alter_dc(const std::string& element, double value);
  RunResult run(const RunOptions& options);
  void remove_circuit();

  std::vector<std::string> log;
  std::vector<std::string> call_stderr;  // stderr lines of the current call
  bool exit_requested = false;
  int exit_status = 0;
  bool exit_on_quit = false;
  bool circuit_loaded = false;
  bool plots_left = false;  // a plot may exist (a run's `destroy all` did not happen or failed)
  std::string unusable;  // non-empty: why this Session cannot be used any more
  RunState* run_state = nullptr;
};

namespace {

struct ProcessState {
  std::mutex mutex;
  bool session_alive = false;
  Session::Impl* current = nullptr;  // receives the callbacks
  detail::NgspiceLibrary library;
  bool library_broken = false;  // ControlledExit seen: load afresh before any further use
  std::string dead;             // non-empty: ngspice cannot be used again in this process
};

ProcessState& process() {
  // Never destroyed: callbacks must find it valid even during static destruction.
  static ProcessState* state = new ProcessState;
  return *state;
}

Session::Impl* target(void* user) { return static_cast<ProcessState*>(user)->current; }

// The C callbacks. They must never let an exception reach ngspice's C frames.
int send_char_cb(char* text, int, void* user) {
  try {
    if (auto* impl = target(user); impl != nullptr && text != nullptr) impl->on_char(text);
  } catch (...) {
  }
  return 0;
}

int controlled_exit_cb(int status, NG_BOOL, NG_BOOL quit, int, void* user) {
  try {
    if (auto* impl = target(user); impl != nullptr) impl->on_exit(status, quit);
  } catch (...) {
  }
  return 0;
}

int send_data_cb(pvecvaluesall data, int, int, void* user) {
  try {
    if (auto* impl = target(user); impl != nullptr && data != nullptr) impl->on_data(data);
  } catch (...) {
  }
  return 0;
}

int send_init_data_cb(pvecinfoall info, int, void* user) {
  try {
    if (auto* impl = target(user); impl != nullptr && info != nullptr) impl->on_init_data(info);
  } catch (...) {
  }
  return 0;
}

detail::NgspiceCallbacks callbacks() {
  detail::NgspiceCallbacks cb;
  cb.send_char = &send_char_cb;
  cb.controlled_exit = &controlled_exit_cb;
  cb.send_data = &send_data_cb;
  cb.send_init_data = &send_init_data_cb;
  cb.user = &process();
  return cb;
}

// ngspice's messages for an exception: the failure lines first, then the whole stderr output
// of the call (consecutive repeats folded; at most the first 10 and the last 20 lines).
std::string describe(const std::vector<std::string>& failures,
                     const std::vector<std::string>& all) {
  std::string out;
  for (const auto& f : failures) fmt::format_to(std::back_inserter(out), "\n  {}", f);
  std::vector<std::string> folded;
  for (const auto& l : all)
    if (folded.empty() || folded.back() != l) folded.push_back(l);
  if (folded.size() > failures.size()) {
    out += "\nngspice stderr:";
    for (std::size_t i = 0; i < folded.size(); ++i) {
      if (folded.size() > 30 && i == 10)
        fmt::format_to(std::back_inserter(out), "\n    ... ({} lines)", folded.size() - 30);
      if (folded.size() > 30 && i >= 10 && i < folded.size() - 20) continue;
      fmt::format_to(std::back_inserter(out), "\n    {}", folded[i]);
    }
  }
  return out;
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// Callbacks.

void Session::Impl::on_char(const char* text) {
  std::string line(text);
  if (log.size() >= kMaxLogLines)
    log.erase(log.begin(), log.begin() + static_cast<std::ptrdiff_t>(kMaxLogLines / 2));
  if (line.rfind("stderr ", 0) == 0) call_stderr.push_back(line.substr(7));
  log.push_back(std::move(line));
}

void Session::Impl::on_exit(int status, bool quit) {
  exit_requested = true;
  exit_status = status;
  exit_on_quit = quit;
}

void Session::Impl::on_init_data(pvecinfoall info) {
  RunState* rs = run_state;
  if (rs == nullptr) return;
  const std::string type = info->type != nullptr ? info->type : "";
  if (!rs->plot_types.empty()) rs->plot_types += ", ";
  rs->plot_types += type;
  // Only the transient plot is recorded (an .op before it, say, is not).
  rs->in_tran_plot = to_lower(type).rfind("tran", 0) == 0;
  rs->resolved = false;
}

void Session::Impl::on_data(pvecvaluesall data) {
  RunState* rs = run_state;
  if (rs == nullptr || !rs->in_tran_plot || !rs->missing.empty()) return;
  const int count = data->veccount;
  if (!rs->resolved) {
    // Indices are resolved once per plot, from the names of the first accepted point.
    std::unordered_map<std::string, int> by_name;
    rs->scale_index = -1;
    rs->available.clear();
    for (int i = 0; i < count; ++i) {
      const vecvalues* v = data->vecsa[i];
      const std::string name = to_lower(v->name != nullptr ? v->name : "");
      if (v->is_scale || (rs->scale_index < 0 && name == "time")) rs->scale_index = i;
      by_name.emplace(name, i);
      rs->available.push_back(name);
    }
    rs->index.assign(rs->wanted.size(), -1);
    for (std::size_t k = 0; k < rs->wanted.size(); ++k) {
      auto it = by_name.find(rs->wanted[k]);
      if (it == by_name.end())
        rs->missing.push_back(rs->options->nodes[k]);
      else
        rs->index[k] = it->second;
    }
    if (rs->scale_index < 0) rs->missing.emplace_back("time");
    if (!rs->missing.empty()) return;
    rs->resolved = true;
    const auto n = static_cast<Eigen::Index>(rs->wanted.size());
    rs->values = Eigen::VectorXd::Zero(n);
    rs->previous = Eigen::VectorXd::Zero(n);
    rs->integral = Eigen::VectorXd::Zero(n);
    rs->have_previous = false;
    rs->integrating = false;
    rs->points = 0;
  }
  const double t = data->vecsa[rs->scale_index]->creal;
  for (std::size_t k = 0; k < rs->index.size(); ++k)
    rs->values[static_cast<Eigen::Index>(k)] = data->vecsa[rs->index[k]]->creal;

  // Trapezoidal rule over [window_start, t], each interval weighted by its length. An interval
  // that straddles window_start is cut there, the value at window_start interpolated linearly.
  const double ws = rs->options->window_start;
  if (rs->have_previous && t > rs->previous_time && t > ws) {
    double t0 = rs->previous_time;
    if (t0 < ws) {
      const double f = (ws - t0) / (t - t0);
      const Eigen::VectorXd at_ws = rs->previous + f * (rs->values - rs->previous);
      rs->integral += 0.5 * (t - ws) * (at_ws + rs->values);
      t0 = ws;
    } else {
      rs->integral += 0.5 * (t - t0) * (rs->previous + rs->values);
    }
    if (!rs->integrating) {
      rs->integrating = true;
      rs->window_begin = t0;
    }
  } else if (!rs->have_previous && t >= ws) {
    // The first point already lies inside the window: the window begins here.
    rs->integrating = true;
    rs->window_begin = t;
  }
  rs->previous = rs->values;
  rs->previous_time = t;
  rs->have_previous = true;
  rs->time = t;
  ++rs->points;

  if (rs->options->observer && !rs->observer_error) {
    try {
      rs->options->observer(t, rs->values);
    } catch (...) {
      // Rethrown after the run returns; ngspice's C frames must not see it.
      rs->observer_error = std::current_exception();
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Calls into ngspice.

template <class F>
int Session::Impl::call(std::string_view what, F&& f) {
  call_stderr.clear();
  exit_requested = false;
  int rc = 0;
  {
    CLocaleScope c_locale;
    rc = f();
    // ngspice appends every command it runs to its control-structure list (control.c's
    // cp_evloop, for `while`/`repeat` blocks typed at its prompt) and frees the list only when
    // told: ~0.45 KB per `alter`, ~0.2 KB per `echo`, ~0.4 KB per `run` + `destroy all`, for the
    // life of the process. Emptied after every call, a run costs ~14 bytes that stay.
    if (!exit_requested && process().library.is_open()) process().library.forget_commands();
  }
  if (!exit_requested) return rc;

  // ngspice asked to be detached. Its state is not trusted any more: load a fresh image.
  std::string message = fmt::format(
      "ngspice could not {}: it stopped with an unrecoverable error (ControlledExit, status {}){}",
      what, exit_status, describe(failure_lines(), call_stderr));
  circuit_loaded = false;
  run_state = nullptr;
  auto& p = process();
  p.library_broken = true;
  try {
    p.library.reload(callbacks());
    p.library_broken = false;
    configure();
    message += "\nThe ngspice library was unloaded and loaded afresh; load a circuit again.";
  } catch (const std::exception& e) {
    p.dead = fmt::format("ngspice could not be loaded again after an unrecoverable error: {}",
                         e.what());
    unusable = p.dead;
    message += "\n" + p.dead;
  }
  throw SimulationError(message);
}

std::vector<std::string> Session::Impl::failure_lines() const {
  std::vector<std::string> out;
  for (const auto& l : call_stderr)
    if (is_failure_line(l) && (out.empty() || out.back() != l)) out.push_back(l);
  return out;
}

void Session::Impl::fail(std::string_view what, const std::vector<std::string>& failures) const {
  throw SimulationError(
      fmt::format("ngspice could not {}:{}", what, describe(failures, call_stderr)));
}

void Session::Impl::command(const std::string& text, std::string_view what) {
  if (text.size() > kMaxCommandLength)
    throw InputError(fmt::format(
        "ngspice command too long ({} characters, at most {}): {}...", text.size(),
        kMaxCommandLength, text.substr(0, 60)));
  auto& lib = process().library;
  call(what, [&] { return lib.command(text.c_str()); });
  if (auto failures = failure_lines(); !failures.empty()) fail(what, failures);
}

void Session::Impl::command_quietly(const std::string& text) noexcept {
  try {
    if (!unusable.empty() || !process().library.is_open()) return;
    auto& lib = process().library;
    call(text, [&] { return lib.command(text.c_str()); });
  } catch (...) {
  }
}

void Session::Impl::configure() {
  // No pager, no question on quit, and no "Run Spice anyway? y/n" read from stdin after a
  // numparam error (asked only when `interactive` is set, e.g. by a user's .spiceinit).
  for (const char* c : {"set nomoremode", "unset moremode", "set noaskquit", "unset askquit",
                        "unset interactive"})
    command(c, fmt::format("configure the session (`{}`)", c));
}

void Session::Impl::check_usable() const {
  if (run_state != nullptr)
    throw InputError("Session: called from inside a run (an observer must not call the Session)");
  if (!unusable.empty()) throw SimulationError(unusable);
}

// ---------------------------------------------------------------------------------------------
// Operations.

void Session::Impl::load(const std::string& text) {
  check_usable();
  if (circuit_loaded) remove_circuit();
  Deck deck = make_deck(text);
  if (!deck.has_content) throw InputError("Session::load: the netlist text is empty");
  if (deck.blanked > 0)
    log.push_back(fmt::format(
        "tkfac ignored {} netlist line(s) of .control blocks and .meas statements", deck.blanked));
  std::vector<char*> pointers;
  pointers.reserve(deck.lines.size() + 1);
  for (auto& l : deck.lines) pointers.push_back(l.data());
  pointers.push_back(nullptr);

  auto& lib = process().library;
  call("load the netlist", [&] { return lib.circ(pointers.data()); });
  if (auto failures = failure_lines(); !failures.empty()) {
    const std::vector<std::string> messages = call_stderr;
    // A half-parsed circuit may exist: remove it so that the next load starts clean.
    command_quietly("remcirc");
    call_stderr = messages;
    fail("load the netlist", failures);
  }
  circuit_loaded = true;
  // Keep only the last point of each vector: the Session reads every point through SendData.
  command("save none", "set `save none`");
}

void Session::Impl::alter_dc(const std::string& element, double value) {
  check_usable();
  if (!circuit_loaded) throw InputError("Session::alter_dc: no circuit loaded (call load first)");
  const std::string_view name = trim(element);
  if (name.empty() || name.find_first_of(" \t\r\n=") != std::string_view::npos)
    throw InputError(fmt::format("Session::alter_dc: invalid element name '{}'", element));
  if (!std::isfinite(value))
    throw InputError(
        fmt::format("Session::alter_dc: value for {} must be finite, got {}", element, value));
  // {:.17g} round-trips a double; fmt formats without the locale.
  command(fmt::format("alter {} dc = {:.17g}", name, value),
          fmt::format("set the DC value of {} to {:.17g}", name, value));
}

RunResult Session::Impl::run(const RunOptions& options) {
  check_usable();
  if (!circuit_loaded) throw InputError("Session::run: no circuit loaded (call load first)");
  if (!std::isfinite(options.window_start))
    throw InputError(fmt::format("Session::run: window_start must be finite, got {}",
                                 options.window_start));
  RunState rs;
  rs.options = &options;
  for (const auto& n : options.nodes) {
    std::string w = normalize_node_name(n);
    if (w.empty()) throw InputError("Session::run: empty node name in RunOptions::nodes");
    rs.wanted.push_back(std::move(w));
  }

  auto& lib = process().library;
  const auto start = std::chrono::steady_clock::now();
  run_state = &rs;
  plots_left = true;
  try {
    call("run the transient analysis", [&] { return lib.command("run"); });
  } catch (...) {
    run_state = nullptr;
    throw;
  }
  run_state = nullptr;
  const double wall =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  const std::vector<std::string> run_stderr = call_stderr;
  // Plots are not needed after the run (the points came through SendData); destroying them
  // keeps memory and run time flat over many runs.
  command_quietly("destroy all");
  plots_left = !failure_lines().empty() || exit_requested;
  call_stderr = run_stderr;

  if (auto failures = failure_lines(); !failures.empty())
    fail("run the transient analysis", failures);
  if (rs.observer_error) std::rethrow_exception(rs.observer_error);
  if (!rs.missing.empty()) {
    std::string names;
    for (const auto& m : rs.missing) names += (names.empty() ? "" : ", ") + m;
    std::string available;
    for (std::size_t i = 0; i < rs.available.size() && i < 40; ++i)
      available += (i == 0 ? "" : ", ") + rs.available[i];
    if (rs.available.size() > 40) available += ", ...";
    throw InputError(fmt::format(
        "Session::run: node(s) not found in the circuit: {} (ngspice's vectors: {})", names,
        available));
  }
  if (rs.points == 0)
    throw SimulationError(fmt::format(
        "Session::run: ngspice produced no transient time point (analyses run: {}); the "
        "netlist needs a .tran line",
        rs.plot_types.empty() ? "none" : rs.plot_types));

  RunResult result;
  result.final_values = rs.values;
  result.final_time = rs.time;
  result.accepted_points = rs.points;
  result.wall_seconds = wall;
  const double length = rs.time - rs.window_begin;
  if (rs.integrating && length > 0.0)
    result.window_mean = rs.integral / length;
  else
    result.window_mean = rs.values;  // empty window [end, end]: its limit is the final value
  return result;
}

void Session::Impl::remove_circuit() {
  check_usable();
  if (!circuit_loaded) return;
  circuit_loaded = false;
  command("remcirc", "remove the circuit");
  // Plots are destroyed only if a run left one: a command is cheap now that ngspice's command
  // list is emptied after each (Impl::call), but not free.
  if (plots_left) command("destroy all", "destroy the plots");
  plots_left = false;
}

// ---------------------------------------------------------------------------------------------
// Session.

Session::Session() : impl_(nullptr) {
  auto& p = process();
  std::lock_guard<std::mutex> lock(p.mutex);
  if (p.session_alive)
    throw SimulationError(
        "another tkfac::cosim::Session is alive in this process: ngspice keeps global state, so "
        "only one may exist at a time (use separate processes for parallel solves)");
  if (!p.dead.empty()) throw SimulationError(p.dead);
  auto impl = std::make_unique<Impl>();
  p.current = impl.get();
  try {
    if (!p.library.is_open()) {
      // First Session of the process: load and initialize. The image is then kept for later
      // Sessions (ngSpice_Init must not run twice on one image).
      impl->call("initialize", [&] {
        p.library.open(callbacks());
        return 0;
      });
      impl->configure();
    } else if (p.library_broken) {
      impl->call("initialize", [&] {
        p.library.reload(callbacks());
        return 0;
      });
      p.library_broken = false;
      impl->configure();
    } else {
      // Reusing the image of an earlier Session: start without plots.
      impl->command("destroy all", "destroy old plots");
    }
    impl->check_usable();
  } catch (...) {
    p.current = nullptr;
    throw;
  }
  p.session_alive = true;
  impl_ = impl.release();
}

Session::~Session() {
  if (impl_ == nullptr) return;
  try {
    if (impl_->circuit_loaded && impl_->unusable.empty()) impl_->remove_circuit();
  } catch (...) {
  }
  auto& p = process();
  {
    std::lock_guard<std::mutex> lock(p.mutex);
    p.current = nullptr;
    p.session_alive = false;
  }
  delete impl_;
}

void Session::load(const std::string& netlist_text) { impl_->load(netlist_text); }

void Session::alter_dc(const std::string& element, double value) {
  impl_->alter_dc(element, value);
}

RunResult Session::run(const RunOptions& options) { return impl_->run(options); }

void Session::remove_circuit() { impl_->remove_circuit(); }

const std::vector<std::string>& Session::log() const { return impl_->log; }

CircuitGuard::~CircuitGuard() {
  try {
    session_.remove_circuit();
  } catch (...) {  // see the header: the error that ended the scope matters more
  }
}

}  // namespace tkfac::cosim
