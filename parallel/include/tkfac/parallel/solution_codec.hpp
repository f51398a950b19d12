#pragma once
// A Solution as bytes and back, for sending it to other ranks: x, every SolveReport field, the
// standard errors. Doubles travel as their bits, so a Solution decoded on another rank is the
// one solved, bit for bit. A field added to SolveReport must be added here too (the round-trip
// test in parallel_test compares every field).
#include <cstdint>
#include <string>
#include <vector>

#include "tkfac/solver/linear_solver.hpp"

namespace tkfac::parallel {

class ByteWriter {
 public:
  template <class T>
  void put(const T& v) {
    const auto* p = reinterpret_cast<const char*>(&v);
    bytes_.insert(bytes_.end(), p, p + sizeof(T));
  }
  void put_string(const std::string& s);
  void put_matrix(const Eigen::MatrixXd& m);
  void put_solution(const solver::Solution& s);
  std::vector<char>& bytes() { return bytes_; }

 private:
  std::vector<char> bytes_;
};

class ByteReader {
 public:
  ByteReader(const char* data, std::size_t size) : p_(data), end_(data + size) {}
  template <class T>
  T get() {
    T v{};
    take(&v, sizeof(T));
    return v;
  }
  std::string get_string();
  Eigen::MatrixXd get_matrix();
  solver::Solution get_solution();
  bool done() const { return p_ == end_; }

 private:
  void take(void* out, std::size_t n);
  const char* p_;
  const char* end_;
};

}  // namespace tkfac::parallel
