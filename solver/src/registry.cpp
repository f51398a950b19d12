#include "tkfac/solver/registry.hpp"

#include <fmt/format.h>

#include <mutex>
#include <utility>
#include <vector>

#include "digital_solvers.hpp"
#include "tkfac/core/error.hpp"

namespace tkfac::solver {
namespace {

struct Entry {
  std::string name;
  BackendFactory factory;
};

// A vector, not a map: backends() lists them in registration order (the order error messages
// and --help print them in). The digital backends are there from the first use on, so no
// static initializer is needed for them.
struct Registry {
  std::mutex mutex;
  std::vector<Entry> entries{{"cholesky", make_cholesky_solver}, {"cg", make_cg_solver}};
  SolverDecorator decorator;
};

Registry& registry() {
  static Registry r;
  return r;
}

}  // namespace

void register_backend(const std::string& name, BackendFactory factory) {
  if (name.empty()) throw InputError("register_backend: empty backend name");
  if (!factory) throw InputError(fmt::format("register_backend: '{}' has no factory", name));
  Registry& r = registry();
  const std::lock_guard lock(r.mutex);
  for (Entry& e : r.entries) {
    if (e.name == name) {
      e.factory = std::move(factory);
      return;
    }
  }
  r.entries.push_back({name, std::move(factory)});
}

void set_solver_decorator(SolverDecorator decorator) {
  Registry& r = registry();
  const std::lock_guard lock(r.mutex);
  r.decorator = std::move(decorator);
}

std::vector<std::string> LinearSolver::backends() {
  Registry& r = registry();
  const std::lock_guard lock(r.mutex);
  std::vector<std::string> names;
  names.reserve(r.entries.size());
  for (const Entry& e : r.entries) names.push_back(e.name);
  return names;
}

std::unique_ptr<LinearSolver> LinearSolver::create(const SolverOptions& options) {
  // validate() rejects an unknown backend, listing the registered ones.
  options.validate();
  BackendFactory factory;
  SolverDecorator decorator;
  {
    Registry& r = registry();
    const std::lock_guard lock(r.mutex);
    for (const Entry& e : r.entries) {
      if (e.name == options.backend) factory = e.factory;
    }
    decorator = r.decorator;
  }
  std::unique_ptr<LinearSolver> solver = factory(options);
  return decorator ? decorator(std::move(solver)) : std::move(solver);
}

}  // namespace tkfac::solver
