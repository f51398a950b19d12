#include "tkfac/parallel/distributed_solver.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <exception>
#include <string>

#include "mpi_util.hpp"
#include "tkfac/core/error.hpp"
#include "tkfac/parallel/assignment.hpp"
#include "tkfac/parallel/solution_codec.hpp"

namespace tkfac::parallel {
namespace {

using solver::Solution;
using solver::SolveRequest;

constexpr int kProgressTag = 7101;  // a rank's run count, to rank 0
constexpr int kFailTag = 7102;      // "my solve failed": the others stop

// A rank's run count in the current call; the last one of a call has final = 1.
struct ProgressMessage {
  std::int64_t call = 0;
  std::int64_t done = 0;
  double fraction = 0.0;
  std::int32_t final = 0;
};

enum class Status : std::int32_t { ok = 0, input = 1, simulation = 2, other = 3, stopped = 4 };

// Thrown into a rank's own solve when another rank failed: it stops after the run under way.
struct Stopped {};

bool g_failed_together = false;
DistributedSolver::Totals g_totals;

// Columns [first, first + columns) of a request as a request of their own: Kind::solve with
// those columns of its right-hand side (of the identity, for an inverse).
SolveRequest piece_of(const SolveRequest& r, const WorkPiece& piece) {
  SolveRequest p;
  p.kind = SolveRequest::Kind::solve;
  p.matrix = r.matrix;
  p.activations = r.activations;
  p.damping = r.damping;
  p.label = fmt::format("{} columns {}-{}", r.label, piece.first + 1, piece.first + piece.columns);
  const Eigen::Index n = solver::shape_of(r).n;
  p.rhs = r.kind == SolveRequest::Kind::solve
              ? Eigen::MatrixXd(r.rhs.middleCols(piece.first, piece.columns))
              : Eigen::MatrixXd(Eigen::MatrixXd::Identity(n, n).middleCols(piece.first, piece.columns));
  return p;
}

// Covariance run `piece.segment` of an inverse request, alone (SolveRequest::segment).
SolveRequest segment_of(const SolveRequest& r, const WorkPiece& piece) {
  SolveRequest p = r;
  p.segment = piece.segment;
  p.label = fmt::format("{} run {}", r.label, piece.segment + 1);
  return p;
}

// How a failure message names a piece after its request's label.
std::string piece_name(const WorkPiece& piece) {
  if (piece.first >= 0) {
    return fmt::format(" columns {}-{}", piece.first + 1, piece.first + piece.columns);
  }
  if (piece.segment >= 0) return fmt::format(" run {}", piece.segment + 1);
  return "";
}

// A single solve's right-hand sides as a request of their own (the caller adds M), so that
// solve_all may share its columns.
SolveRequest columns_request(const Eigen::MatrixXd& b, double damping) {
  SolveRequest r;
  r.rhs = b;
  r.damping = damping;
  r.label = "solve";
  return r;
}

double seconds_since(std::chrono::steady_clock::time_point t) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count();
}

}  // namespace

// One solve_all under way: the runs each rank has done (rank 0 keeps every rank's), and this
// rank's own failure.
struct DistributedSolver::Running {
  long call = 0;
  long total = 0;                     // circuit runs of the whole batch
  long local_done = 0;                // runs of this rank's finished solves
  std::vector<double> rank_progress;  // rank 0: runs done (with the fraction of the one under way)
  int finals = 0;                     // rank 0: final messages received
  double last_sent = -1.0;
  Status status = Status::ok;
  std::string message;
  long failed_index = -1;
  std::exception_ptr error;
  bool told_others = false;
};

bool DistributedSolver::failed_together() { return g_failed_together; }
DistributedSolver::Totals DistributedSolver::totals() { return g_totals; }

DistributedSolver::DistributedSolver(std::unique_ptr<solver::LinearSolver> inner, MPI_Comm comm)
    : inner_(std::move(inner)), comm_(comm) {
  MPI_Comm_rank(comm_, &rank_);
  MPI_Comm_size(comm_, &size_);
  inner_->set_progress([this](const solver::SolveProgress& p) { on_inner_progress(p); });
}

Solution DistributedSolver::delegated(const solver::SolveShape& shape,
                                      const std::function<Solution()>& call) {
  const solver::RunProgress::Scope scope(progress(), inner_->cost(shape).circuit_runs);
  return call();
}

// A single solve of several right-hand sides is a batch of one: its columns may be shared.
Solution DistributedSolver::solve(const Eigen::MatrixXd& m, const Eigen::MatrixXd& b,
                                  double damping) {
  if (size_ > 1 && b.cols() > 1) {
    SolveRequest r = columns_request(b, damping);
    r.matrix = m;
    return solve_all({r}).front();
  }
  return delegated({SolveRequest::Kind::solve, m.rows(), b.cols()},
                   [&] { return inner_->solve(m, b, damping); });
}
Solution DistributedSolver::inverse(const Eigen::MatrixXd& m, double damping) {
  return delegated({SolveRequest::Kind::inverse, m.rows(), 0},
                   [&] { return inner_->inverse(m, damping); });
}
Solution DistributedSolver::solve_activations(const Eigen::MatrixXd& a, const Eigen::MatrixXd& b,
                                              double damping) {
  if (size_ > 1 && b.cols() > 1) {
    SolveRequest r = columns_request(b, damping);
    r.activations = a;
    return solve_all({r}).front();
  }
  return delegated({SolveRequest::Kind::solve, a.rows(), b.cols()},
                   [&] { return inner_->solve_activations(a, b, damping); });
}
Solution DistributedSolver::inverse_activations(const Eigen::MatrixXd& a, double damping) {
  return delegated({SolveRequest::Kind::inverse, a.rows(), 0},
                   [&] { return inner_->inverse_activations(a, damping); });
}
Solution DistributedSolver::solve_request(const SolveRequest& r) {
  return delegated(solver::shape_of(r), [&] { return inner_->solve_request(r); });
}

void DistributedSolver::on_inner_progress(const solver::SolveProgress& p) {
  Running* run = running_;
  if (run == nullptr) {  // a single call, made by every rank
    progress().set_done(p.runs_done, p.run_fraction);
    return;
  }
  const double mine = static_cast<double>(run->local_done + p.runs_done) + p.run_fraction;
  if (rank_ != 0) {
    // At most ~50 messages per run: each whole run, and every 2% inside one.
    if (mine - run->last_sent >= 0.02 || p.run_fraction == 0.0) {
      const ProgressMessage msg{run->call, static_cast<std::int64_t>(run->local_done + p.runs_done),
                                p.run_fraction, 0};
      MPI_Send(&msg, sizeof msg, MPI_BYTE, 0, kProgressTag, comm_);
      run->last_sent = mine;
    }
  } else {
    run->rank_progress[0] = mine;
    int flag = 0;
    MPI_Status st;
    while (MPI_Iprobe(MPI_ANY_SOURCE, kProgressTag, comm_, &flag, &st), flag) {
      ProgressMessage msg;
      MPI_Recv(&msg, sizeof msg, MPI_BYTE, st.MPI_SOURCE, kProgressTag, comm_, MPI_STATUS_IGNORE);
      run->rank_progress[static_cast<std::size_t>(st.MPI_SOURCE)] =
          static_cast<double>(msg.done) + msg.fraction;
      if (msg.final) ++run->finals;
    }
    if (run->total > 0) {
      double sum = 0.0;
      for (double d : run->rank_progress) sum += d;
      // The whole batch is reported done once, after the exchange.
      sum = std::min(sum, static_cast<double>(run->total) - 0.001);
      const long done = static_cast<long>(std::floor(sum));
      progress().set_done(done, sum - static_cast<double>(done));
    }
  }
  // Another rank failed: stop after the run under way (the exception leaves the backend then).
  int flag = 0;
  MPI_Iprobe(MPI_ANY_SOURCE, kFailTag, comm_, &flag, MPI_STATUS_IGNORE);
  if (flag) throw Stopped{};
}

std::vector<Solution> DistributedSolver::solve_all(const std::vector<SolveRequest>& requests) {
  g_failed_together = false;  // about this call only (a caller may have caught an earlier one)
  if (size_ == 1) {
    // One rank: the backend's own batch call (InputError labels and progress as without MPI).
    inject_failure(rank_);
    const solver::RunProgress::Scope scope(progress(), [&] {
      std::vector<solver::SolveShape> shapes;
      for (const SolveRequest& r : requests) shapes.push_back(solver::shape_of(r));
      return inner_->cost_all(shapes).circuit_runs;
    }());
    return inner_->solve_all(requests);
  }
  const std::size_t count = requests.size();
  Running run;
  run.call = ++calls_;
  run.rank_progress.assign(static_cast<std::size_t>(size_), 0.0);
  std::vector<solver::SolveShape> shapes(count);
  std::vector<long> runs(count);
  std::vector<double> costs(count);
  using Key = std::tuple<std::size_t, std::size_t, int, long, long>;
  std::vector<Key> keys(count);
  bool measured = count > 0;
  for (std::size_t i = 0; i < count; ++i) {
    shapes[i] = solver::shape_of(requests[i]);
    runs[i] = inner_->cost(shapes[i]).circuit_runs;
    run.total += runs[i];
    keys[i] = {count, i, static_cast<int>(shapes[i].kind), static_cast<long>(shapes[i].n),
               static_cast<long>(shapes[i].rhs_columns)};
    const auto it = measured_.find(keys[i]);
    measured = measured && it != measured_.end();
    costs[i] = it != measured_.end() ? it->second : 0.0;
  }
  // All measured or all modelled: the two are in different units.
  if (!measured) {
    for (std::size_t i = 0; i < count; ++i) costs[i] = model_cost(*inner_, shapes[i]);
  }
  // The work items and their ranks (plan_work): whole requests, or column pieces of a solve or
  // inverse whose backend can merge them bit for bit (SolveCost::column_pieces) when it would
  // take more than half a rank's share. An inverse of several independent covariance runs
  // (SolveCost::segments) is always split into them, one piece per run, whatever the number of
  // ranks.
  std::vector<long> columns(count);
  std::vector<bool> splittable(count);
  std::vector<long> segments(count, 0);
  for (std::size_t i = 0; i < count; ++i) {
    const SolveRequest& r = requests[i];
    const solver::SolveCost c = inner_->cost(shapes[i]);
    columns[i] = static_cast<long>(r.kind == SolveRequest::Kind::solve ? shapes[i].rhs_columns
                                                                        : shapes[i].n);
    splittable[i] = c.column_pieces && r.start.size() == 0;
    if (r.kind == SolveRequest::Kind::inverse) segments[i] = c.segments;
  }
  const WorkPlan plan = plan_work(costs, columns, splittable, size_, segments);
  const std::vector<WorkPiece>& pieces = plan.pieces;
  const std::vector<int>& owner = plan.owner;
  const solver::RunProgress::Scope scope(progress(), run.total);

  // Tells every other rank that this one failed (once), so that they stop early.
  const auto tell_others = [&] {
    if (run.told_others) return;
    run.told_others = true;
    const std::int32_t one = 1;
    for (int r = 0; r < size_; ++r) {
      if (r != rank_) MPI_Send(&one, 1, MPI_INT32_T, r, kFailTag, comm_);
    }
  };
  const auto record = [&](Status status, const std::string& what, long index) {
    run.status = status;
    run.message = what;
    run.failed_index = index;
    run.error = std::current_exception();
    tell_others();
  };

  // This rank's share, in request (and column) order.
  ByteWriter mine;
  std::int64_t solved = 0;
  ByteWriter entries;
  running_ = &run;
  for (std::size_t p = 0; p < pieces.size() && run.status == Status::ok; ++p) {
    if (owner[p] != rank_) continue;
    const WorkPiece& piece = pieces[p];
    const std::size_t i = piece.item;
    const SolveRequest& r = requests[i];
    const long index = static_cast<long>(p);
    try {
      int flag = 0;
      MPI_Iprobe(MPI_ANY_SOURCE, kFailTag, comm_, &flag, MPI_STATUS_IGNORE);
      if (flag) throw Stopped{};
      inject_failure(rank_);
      const auto start = std::chrono::steady_clock::now();
      Solution s = piece.first >= 0     ? inner_->solve_request(piece_of(r, piece))
                   : piece.segment >= 0 ? inner_->solve_request(segment_of(r, piece))
                                        : inner_->solve_request(r);
      const double seconds = seconds_since(start);
      entries.put<std::int64_t>(index);
      entries.put(seconds);
      entries.put_solution(s);
      ++solved;
      run.local_done += piece.first >= 0 ? piece.columns : piece.segment >= 0 ? 1 : runs[i];
      on_inner_progress({0, 0, 0.0});  // this rank's count, to rank 0
    } catch (const Stopped&) {
      run.status = Status::stopped;
    } catch (const InputError& e) {
      record(Status::input, e.what(), index);  // named by rank and solve at the exchange
    } catch (const SimulationError& e) {
      record(Status::simulation, e.what(), index);
    } catch (const std::exception& e) {
      record(Status::other, e.what(), index);
    } catch (...) {
      record(Status::other, "unknown error", index);
    }
  }
  running_ = nullptr;

  // Rank 0 follows the others' progress until each has finished its share.
  if (rank_ != 0) {
    const ProgressMessage msg{run.call, run.local_done, 0.0, 1};
    MPI_Send(&msg, sizeof msg, MPI_BYTE, 0, kProgressTag, comm_);
  } else {
    run.rank_progress[0] = static_cast<double>(run.local_done);
    while (run.finals < size_ - 1) {
      ProgressMessage msg;
      const MPI_Status st = probe_idle(kProgressTag, comm_);
      MPI_Recv(&msg, sizeof msg, MPI_BYTE, st.MPI_SOURCE, kProgressTag, comm_, MPI_STATUS_IGNORE);
      run.rank_progress[static_cast<std::size_t>(st.MPI_SOURCE)] =
          static_cast<double>(msg.done) + msg.fraction;
      if (msg.final) ++run.finals;
      if (run.total > 0 && run.status == Status::ok) {
        double sum = 0.0;
        for (double d : run.rank_progress) sum += d;
        sum = std::min(sum, static_cast<double>(run.total) - 0.001);
        const long done = static_cast<long>(std::floor(sum));
        try {
          progress().set_done(done, sum - static_cast<double>(done));  // may throw (Ctrl-C)
        } catch (const std::exception& e) {
          record(Status::other, e.what(), -1);
        }
      }
    }
  }

  // The exchange: every rank's status and results to every rank.
  mine.put(static_cast<std::int32_t>(run.status));
  mine.put<std::int64_t>(run.failed_index);
  mine.put_string(run.message);
  mine.put(solved);
  std::vector<char>& out_bytes = mine.bytes();
  out_bytes.insert(out_bytes.end(), entries.bytes().begin(), entries.bytes().end());
  const Gathered gathered = allgather_bytes(out_bytes, comm_, "the results of one batch of solves");
  const std::int64_t all = gathered.total;

  std::vector<Solution> done(pieces.size());
  stats_ = CallStats{};
  stats_.owner.assign(count, 0);
  for (std::size_t p = 0; p < pieces.size(); ++p) stats_.owner[pieces[p].item] = owner[p];
  stats_.solve_seconds.assign(count, 0.0);
  stats_.rank_seconds.assign(static_cast<std::size_t>(size_), 0.0);
  stats_.measured_costs = measured;
  stats_.bytes = all;
  int first_failed = -1;
  Status failed_status = Status::ok;
  std::string failed_message;
  long failed_index = -1;
  std::vector<bool> rank_failed(static_cast<std::size_t>(size_), false);
  for (int r = 0; r < size_; ++r) {
    ByteReader in = gathered.of(r);
    const auto status = static_cast<Status>(in.get<std::int32_t>());
    const auto index = in.get<std::int64_t>();
    std::string message = in.get_string();
    const auto n = in.get<std::int64_t>();
    for (std::int64_t k = 0; k < n; ++k) {
      const auto p = static_cast<std::size_t>(in.get<std::int64_t>());
      const double seconds = in.get<double>();
      done[p] = in.get_solution();
      stats_.solve_seconds[pieces[p].item] += seconds;
      stats_.rank_seconds[static_cast<std::size_t>(r)] += seconds;
    }
    if (status != Status::ok && status != Status::stopped) {
      rank_failed[static_cast<std::size_t>(r)] = true;
      if (first_failed < 0) {
        first_failed = r;
        failed_status = status;
        failed_message = std::move(message);
        failed_index = index;
      }
    }
  }
  // The failure notices sent to this rank: one from each failed rank.
  for (int r = 0; r < size_; ++r) {
    if (r == rank_ || !rank_failed[static_cast<std::size_t>(r)]) continue;
    std::int32_t one = 0;
    MPI_Recv(&one, 1, MPI_INT32_T, r, kFailTag, comm_, MPI_STATUS_IGNORE);
  }
  if (first_failed >= 0) {
    g_failed_together = true;
    std::string where = fmt::format("rank {} (solver call {})", first_failed, run.call);
    if (failed_index >= 0) {
      const WorkPiece& piece = pieces[static_cast<std::size_t>(failed_index)];
      where = fmt::format("rank {}, solve '{}'{} (request {} of {}, solver call {})", first_failed,
                          requests[piece.item].label, piece_name(piece), piece.item + 1, count,
                          run.call);
    }
    // The failing rank keeps its own exception when it is not one of ours (e.g. an interrupt).
    if (first_failed == rank_ && failed_status == Status::other && run.error) {
      std::rethrow_exception(run.error);
    }
    const std::string text = fmt::format("{}: {}", where, failed_message);
    if (failed_status == Status::input) throw InputError(text);
    if (failed_status == Status::simulation) throw SimulationError(text);
    throw std::runtime_error(text);
  }
  // Each request's Solution: its one piece, or its pieces merged in column (segment) order.
  std::vector<Solution> out(count);
  for (std::size_t p = 0; p < pieces.size();) {
    const std::size_t i = pieces[p].item;
    std::size_t end = p;
    while (end < pieces.size() && pieces[end].item == i) ++end;
    if (end - p == 1 && pieces[p].segment < 0) {
      out[i] = std::move(done[p]);
    } else {
      std::vector<Solution> parts(std::make_move_iterator(done.begin() + static_cast<long>(p)),
                                  std::make_move_iterator(done.begin() + static_cast<long>(end)));
      out[i] = pieces[p].segment >= 0 ? inner_->merge_segments(requests[i], parts)
                                      : solver::merge_column_pieces(parts);
    }
    measured_[keys[i]] = stats_.solve_seconds[i];
    p = end;
  }
  ++g_totals.calls;
  g_totals.max_rank_seconds +=
      *std::max_element(stats_.rank_seconds.begin(), stats_.rank_seconds.end());
  for (double t : stats_.rank_seconds) g_totals.mean_rank_seconds += t / size_;
  g_totals.bytes += all;
  if (run.total > 0) progress().set_done(run.total, 0.0);
  return out;
}

}  // namespace tkfac::parallel
