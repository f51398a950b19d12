#include "tkfac/core/output_file.hpp"

#include <fcntl.h>
#include <fmt/format.h>
#include <pthread.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <optional>
#include <random>

#include "tkfac/core/error.hpp"
#include "tkfac/core/text.hpp"

namespace tkfac {
namespace fs = std::filesystem;

namespace {
fs::path parent_of(const std::string& path) {
  fs::path parent = fs::path(path).parent_path();
  return parent.empty() ? fs::path(".") : parent;
}

// A path as messages show it (a hostile name must not reach the terminal raw).
std::string shown(const std::string& path) { return printable_text(path); }

// What a non-regular file is, for the message; nullptr for a regular file.
const char* special_kind(const struct stat& st) {
  if (S_ISREG(st.st_mode)) return nullptr;
  if (S_ISLNK(st.st_mode)) return "a symbolic link";
  if (S_ISDIR(st.st_mode)) return "a directory";
  if (S_ISFIFO(st.st_mode)) return "a FIFO";
  if (S_ISCHR(st.st_mode) || S_ISBLK(st.st_mode)) return "a device node";
  if (S_ISSOCK(st.st_mode)) return "a socket";
  return "not a regular file";
}

// The identity of a file: device and inode when it exists (following links, as a reader
// would), and its canonical path in any case.
struct FileIdentity {
  std::optional<std::pair<dev_t, ino_t>> inode;
  fs::path canonical;
};

FileIdentity identity_of(const std::string& path) {
  FileIdentity id;
  struct stat st;
  if (::stat(path.c_str(), &st) == 0) id.inode = std::make_pair(st.st_dev, st.st_ino);
  std::error_code ec;
  id.canonical = fs::weakly_canonical(fs::absolute(path, ec), ec);
  if (ec) id.canonical = fs::absolute(path, ec).lexically_normal();
  return id;
}

bool same_file(const FileIdentity& a, const FileIdentity& b) {
  if (a.inode && b.inode && *a.inode == *b.inode) return true;
  return a.canonical == b.canonical;
}

// Opens the directory holding `path` and flushes its entries (the rename) to disk.
void sync_directory(const std::string& path) {
  const int fd = ::open(parent_of(path).c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return;
  ::fsync(fd);  // best effort: some file systems refuse fsync on directories
  ::close(fd);
}

}  // namespace

namespace {
bool g_file_output = true;
}  // namespace

void set_file_output(bool enabled) { g_file_output = enabled; }
bool file_output() { return g_file_output; }

void check_writable(const std::string& path, const std::string& option) {
  // Only the process that writes checks its outputs: under mpirun rank 0 may already have
  // written them when another rank gets here, which must not refuse its own job's files.
  if (!g_file_output) return;
  if (path.empty()) throw InputError(fmt::format("{}: empty path", option));
  if (path == "-") {
    throw InputError(fmt::format("{} '-': this option does not write to stdout; expected a file path",
                                 option));
  }
  struct stat st;
  const bool exists = ::lstat(path.c_str(), &st) == 0;
  if (exists) {
    if (const char* kind = special_kind(st)) {
      throw InputError(fmt::format(
          "{} '{}': is {}; expected a regular file or a new name (it would be replaced)", option,
          shown(path), kind));
    }
  }
  std::error_code ec;
  const fs::path parent = parent_of(path);
  if (!fs::is_directory(parent, ec)) {
    throw InputError(fmt::format("{} '{}': directory '{}' does not exist", option, shown(path),
                                 shown(parent.string())));
  }
  if (::access(parent.c_str(), W_OK) != 0) {
    throw InputError(fmt::format("{} '{}': directory '{}' is not writable", option, shown(path),
                                 shown(parent.string())));
  }
  if (exists && ::access(path.c_str(), W_OK) != 0) {
    throw InputError(fmt::format("{} '{}': file exists and is not writable", option, shown(path)));
  }
}

void check_file_uses(const std::vector<FileUse>& uses) {
  if (!g_file_output) return;  // as in check_writable: the writer alone checks
  std::vector<FileIdentity> ids;
  ids.reserve(uses.size());
  for (const FileUse& u : uses) ids.push_back(identity_of(u.path));
  for (std::size_t i = 0; i < uses.size(); ++i) {
    if (!uses[i].output) continue;
    for (std::size_t j = 0; j < uses.size(); ++j) {
      if (j == i || (uses[j].output && j > i)) continue;  // each pair of outputs once
      if (!same_file(ids[i], ids[j])) continue;
      throw InputError(fmt::format(
          "{} '{}': is the same file as {} '{}' ({}); expected a different output file", uses[i].option,
          shown(uses[i].path), uses[j].option, shown(uses[j].path),
          uses[j].output ? "another output of this command" : "an input of this command, which would be destroyed"));
    }
  }
  for (const FileUse& u : uses) {
    if (u.output && !u.directory) check_writable(u.path, u.option);
  }
}

HoldStopSignals::HoldStopSignals() {
  sigset_t block;
  sigemptyset(&block);
  sigaddset(&block, SIGINT);
  sigaddset(&block, SIGTERM);
  sigaddset(&block, SIGHUP);
  restore_ = ::pthread_sigmask(SIG_BLOCK, &block,
                               &previous_) == 0;
}

HoldStopSignals::~HoldStopSignals() {
  if (restore_) {
    ::pthread_sigmask(SIG_SETMASK, &previous_,
                      nullptr);
  }
}

void write_file_atomically(const std::string& path, const std::string& option,
                           const std::function<void(std::ostream&)>& write) {
  if (!g_file_output) return;  // as in check_file_uses: the writer alone checks
  check_writable(path, option);
  const HoldStopSignals hold;  // a Ctrl-C now is delivered after the rename or the clean-up
  std::random_device rd;
  std::string tmp;
  for (int attempt = 0;; ++attempt) {
    tmp = fmt::format("{}.{:08x}.tmp", path, rd());
    const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
    if (fd >= 0) {
      ::close(fd);
      break;
    }
    if (errno != EEXIST || attempt == 10) {
      throw InputError(fmt::format("{} '{}': cannot create file: {}", option, shown(path),
                                   std::strerror(errno)));
    }
  }
  try {
    {
      std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
      if (!out) throw InputError(fmt::format("{} '{}': cannot create file", option, shown(path)));
      write(out);
      out.flush();
      if (!out) throw InputError(fmt::format("{} '{}': write failed", option, shown(path)));
    }
    // The content on disk before the name points at it: after a crash the file is the old one
    // or the new one, never an empty one.
    const int fd = ::open(tmp.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0 || ::fsync(fd) != 0) {
      const int err = errno;
      if (fd >= 0) ::close(fd);
      throw InputError(fmt::format("{} '{}': write failed: {}", option, shown(path),
                                   std::strerror(err)));
    }
    ::close(fd);
    std::error_code ec;
    fs::rename(tmp, path, ec);
    if (ec) {
      throw InputError(fmt::format("{} '{}': cannot replace file: {}", option, shown(path),
                                   ec.message()));
    }
  } catch (...) {
    std::remove(tmp.c_str());
    throw;
  }
  sync_directory(path);
}

}  // namespace tkfac
