#pragma once
// The process's MPI world, for a program that may or may not run under mpirun:
//
//   std::optional<tkfac::parallel::MpiWorld> world;
//   if (tkfac::parallel::MpiWorld::launched()) world.emplace(argc, argv);
//   if (world && world->size() > 1) tkfac::solver::set_solver_decorator(...DistributedSolver...);
//
// A process started without mpirun never initializes MPI, so plain runs behave as before.
#include <mpi.h>

namespace tkfac::parallel {

class MpiWorld {
 public:
  // Whether a launcher (Open MPI's mpirun / mpiexec, or a PMI / PMIx one) started this process.
  static bool launched();
  MpiWorld(int& argc, char**& argv);  // MPI_Init
  ~MpiWorld();                        // MPI_Finalize
  MpiWorld(const MpiWorld&) = delete;
  MpiWorld& operator=(const MpiWorld&) = delete;
  int rank() const { return rank_; }
  int size() const { return size_; }
  MPI_Comm comm() const { return MPI_COMM_WORLD; }

 private:
  int rank_ = 0, size_ = 1;
};

}  // namespace tkfac::parallel
