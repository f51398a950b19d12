#include "tkfac/core/output_file.hpp"

#include <fmt/format.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <random>

#include "tkfac/core/error.hpp"

namespace tkfac {
namespace fs = std::filesystem;

namespace {
fs::path parent_of(const std::string& path) {
  fs::path parent = fs::path(path).parent_path();
  return parent.empty() ? fs::path(".") : parent;
}
}  // namespace

void check_writable(const std::string& path, const std::string& option) {
  if (path.empty()) throw InputError(fmt::format("{}: empty path", option));
  std::error_code ec;
  if (fs::is_directory(path, ec)) {
    throw InputError(fmt::format("{} '{}': is a directory, expected a file path", option, path));
  }
  const fs::path parent = parent_of(path);
  if (!fs::is_directory(parent, ec)) {
    throw InputError(fmt::format("{} '{}': directory '{}' does not exist", option, path,
                                 parent.string()));
  }
  if (::access(parent.c_str(), W_OK) != 0) {
    throw InputError(fmt::format("{} '{}': directory '{}' is not writable", option, path,
                                 parent.string()));
  }
  if (fs::exists(path, ec) && ::access(path.c_str(), W_OK) != 0) {
    throw InputError(fmt::format("{} '{}': file exists and is not writable", option, path));
  }
}

namespace {
bool g_file_output = true;
}  // namespace

void set_file_output(bool enabled) { g_file_output = enabled; }
bool file_output() { return g_file_output; }

void write_file_atomically(const std::string& path, const std::string& option,
                           const std::function<void(std::ostream&)>& write) {
  check_writable(path, option);
  if (!g_file_output) return;
  std::random_device rd;
  const std::string tmp = fmt::format("{}.{:08x}.tmp", path, rd());
  try {
    {
      std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
      if (!out) throw InputError(fmt::format("{} '{}': cannot create file", option, path));
      write(out);
      out.flush();
      if (!out) throw InputError(fmt::format("{} '{}': write failed", option, path));
    }
    std::error_code ec;
    fs::rename(tmp, path, ec);
    if (ec) {
      throw InputError(fmt::format("{} '{}': cannot replace file: {}", option, path, ec.message()));
    }
  } catch (...) {
    std::remove(tmp.c_str());
    throw;
  }
}

}  // namespace tkfac
