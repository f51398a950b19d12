#pragma once
// Internal: JSON helpers shared by the optimizers and checkpoints.
#include <fmt/format.h>

#include <Eigen/Dense>
#include <cmath>
#include <nlohmann/json.hpp>
#include <random>
#include <sstream>
#include <string>

#include "tkfac/core/error.hpp"

namespace tkfac::kfac::detail {

inline nlohmann::json matrix_to_json(const Eigen::MatrixXd& m) {
  nlohmann::json data = nlohmann::json::array();
  for (Eigen::Index i = 0; i < m.rows(); ++i)
    for (Eigen::Index j = 0; j < m.cols(); ++j) data.push_back(m(i, j));
  return {{"rows", m.rows()}, {"cols", m.cols()}, {"data", std::move(data)}};
}

// `rows`/`cols` < 0: accept any shape. Throws InputError naming `what`.
inline Eigen::MatrixXd matrix_from_json(const nlohmann::json& j, const std::string& what,
                                        Eigen::Index rows = -1, Eigen::Index cols = -1) {
  if (!j.is_object() || !j.contains("rows") || !j.contains("cols") || !j.contains("data") ||
      !j["rows"].is_number_integer() || !j["cols"].is_number_integer() || !j["data"].is_array()) {
    throw InputError(fmt::format("{}: expected a matrix {{\"rows\", \"cols\", \"data\"}}", what));
  }
  const auto r = j["rows"].get<Eigen::Index>();
  const auto c = j["cols"].get<Eigen::Index>();
  if (r < 0 || c < 0 || (rows >= 0 && r != rows) || (cols >= 0 && c != cols)) {
    throw InputError(
        fmt::format("{}: matrix is {} x {}, expected {} x {}", what, r, c, rows, cols));
  }
  const auto& data = j["data"];
  if (static_cast<Eigen::Index>(data.size()) != r * c) {
    throw InputError(fmt::format("{}: {} numbers for a {} x {} matrix", what, data.size(), r, c));
  }
  Eigen::MatrixXd m(r, c);
  for (Eigen::Index i = 0; i < r; ++i) {
    for (Eigen::Index k = 0; k < c; ++k) {
      const auto& v = data[static_cast<std::size_t>(i * c + k)];
      if (!v.is_number() || !std::isfinite(v.get<double>())) {
        throw InputError(fmt::format("{}: entry ({}, {}) is not a finite number", what, i, k));
      }
      m(i, k) = v.get<double>();
    }
  }
  return m;
}

inline std::string rng_to_string(const std::mt19937_64& rng) {
  std::ostringstream os;
  os << rng;
  return os.str();
}

inline std::mt19937_64 rng_from_json(const nlohmann::json& j, const std::string& what) {
  std::mt19937_64 rng;
  if (!j.is_string()) throw InputError(fmt::format("{}: expected an RNG state string", what));
  std::istringstream is(j.get<std::string>());
  is >> rng;
  if (!is) throw InputError(fmt::format("{}: malformed RNG state", what));
  return rng;
}

// j[key] as T, or InputError naming `what`.
template <class T>
T get(const nlohmann::json& j, const char* key, const std::string& what) {
  if (!j.is_object() || !j.contains(key)) {
    throw InputError(fmt::format("{}: missing \"{}\"", what, key));
  }
  try {
    return j.at(key).get<T>();
  } catch (const nlohmann::json::exception&) {
    throw InputError(fmt::format("{}: \"{}\" has the wrong type", what, key));
  }
}

// j[key] as a count: an integer >= 0 (a step count, say), or InputError naming `what`.
inline long get_count(const nlohmann::json& j, const char* key, const std::string& what) {
  if (j.is_object() && j.contains(key) && !j.at(key).is_number_integer()) {
    throw InputError(
        fmt::format("{}: \"{}\" must be an integer, got {}", what, key, j.at(key).dump()));
  }
  const long n = get<long>(j, key, what);
  if (n < 0) throw InputError(fmt::format("{}: \"{}\" must be >= 0, got {}", what, key, n));
  return n;
}

// j[key] as T if present, else `fallback`.
template <class T>
T get_or(const nlohmann::json& j, const char* key, T fallback, const std::string& what) {
  if (!j.is_object() || !j.contains(key)) return fallback;
  return get<T>(j, key, what);
}

}  // namespace tkfac::kfac::detail
