#include "ngspice_library.hpp"

#include <dlfcn.h>
#include <fcntl.h>
#include <fmt/format.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>

#include "tkfac/core/error.hpp"

#ifndef TKFAC_NGSPICE_LIBRARY_PATH
#define TKFAC_NGSPICE_LIBRARY_PATH "libngspice.so.0"
#endif

namespace tkfac::cosim::detail {

namespace {

constexpr const char* kSoname = "libngspice.so.0";

// Where to find the library: $TKFAC_NGSPICE_LIBRARY, else the file found at configure time,
// else the runtime package's soname through the loader's search path.
std::string preferred_path() {
  if (const char* env = std::getenv("TKFAC_NGSPICE_LIBRARY"); env != nullptr && *env != '\0')
    return env;
  return TKFAC_NGSPICE_LIBRARY_PATH;
}

std::string last_dl_error() {
  const char* e = dlerror();
  return e != nullptr ? e : "unknown error";
}

template <class F>
F symbol(void* handle, const char* name, const std::string& path) {
  dlerror();
  void* s = dlsym(handle, name);
  if (s == nullptr)
    throw SimulationError(
        fmt::format("ngspice library '{}' has no symbol {}: {}", path, name, last_dl_error()));
  return reinterpret_cast<F>(s);
}

// ngSpice_Init sources ./.spiceinit, or else ~/.spiceinit (from the password file, not $HOME):
// commands from a file in whatever directory tkfac was started in would run inside this process
// (`shell`, `echo > file`, `alias alter echo`, which silently changed multi-right-hand-side
// solves). ngspice 39 has no switch to skip them, so the init runs in a fresh private directory
// holding an empty .spiceinit, which ngspice sources instead of either; the working directory is
// restored right after. (The directory changes process-wide for the duration of ngSpice_Init.)
class CleanInitDirectory {
 public:
  CleanInitDirectory() {
    std::string dir = (std::filesystem::temp_directory_path() / "tkfac-ngspice-XXXXXX").string();
    if (::mkdtemp(dir.data()) == nullptr) fail("cannot create a private directory");
    dir_ = dir;
    const std::string init = dir_ + "/.spiceinit";
    const int fd = ::open(init.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0) fail("cannot create an empty .spiceinit");
    ::close(fd);
    previous_ = ::open(".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (previous_ < 0) fail("cannot open the working directory");
    if (::chdir(dir_.c_str()) != 0) fail("cannot enter the private directory");
  }
  ~CleanInitDirectory() { restore(); }
  CleanInitDirectory(const CleanInitDirectory&) = delete;
  CleanInitDirectory& operator=(const CleanInitDirectory&) = delete;

 private:
  void restore() {
    if (previous_ >= 0) {
      if (::fchdir(previous_) != 0) std::perror("tkfac: cannot return to the working directory");
      ::close(previous_);
      previous_ = -1;
    }
    if (!dir_.empty()) {
      std::error_code ec;
      std::filesystem::remove_all(dir_, ec);
      dir_.clear();
    }
  }
  [[noreturn]] void fail(const char* what) {
    const std::string where = dir_;
    restore();
    throw SimulationError(fmt::format("starting ngspice: {} ({})", what, where));
  }
  std::string dir_;
  int previous_ = -1;
};

}  // namespace

void NgspiceLibrary::load_image() {
  std::string path = preferred_path();
  void* h = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (h == nullptr) {
    const std::string first_error = last_dl_error();
    if (path != kSoname) {
      path = kSoname;
      h = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
    }
    if (h == nullptr)
      throw SimulationError(fmt::format(
          "cannot load the ngspice shared library ({}); install libngspice0 or set "
          "TKFAC_NGSPICE_LIBRARY to its path",
          first_error));
  }
  // ngspice is built with OpenMP. Keep libgomp resident even if ngspice is unloaded later: an
  // OpenMP worker thread must never outlive the code it runs.
  dlopen("libgomp.so.1", RTLD_NOW | RTLD_NOLOAD | RTLD_NODELETE);
  try {
    init_ = symbol<decltype(init_)>(h, "ngSpice_Init", path);
    command_ = symbol<decltype(command_)>(h, "ngSpice_Command", path);
    circ_ = symbol<decltype(circ_)>(h, "ngSpice_Circ", path);
  } catch (...) {
    dlclose(h);
    throw;
  }
  handle_ = h;
  path_ = path;
}

void NgspiceLibrary::open(const NgspiceCallbacks& cb) {
  if (handle_ != nullptr) return;
  load_image();
  // Status and background-thread callbacks are not needed: runs are blocking (`run`, not
  // `bg_run`), and progress is visible through SendData.
  const CleanInitDirectory no_init_files;
  init_(cb.send_char, nullptr, cb.controlled_exit, cb.send_data, cb.send_init_data, nullptr,
        cb.user);
}

void NgspiceLibrary::reload(const NgspiceCallbacks& cb) {
  if (handle_ != nullptr) {
    void* old = handle_;
    const std::string old_path = path_;
    handle_ = nullptr;
    init_ = nullptr;
    command_ = nullptr;
    circ_ = nullptr;
    dlclose(old);
    if (void* still = dlopen(old_path.c_str(), RTLD_NOW | RTLD_NOLOAD); still != nullptr) {
      dlclose(still);
      throw SimulationError(fmt::format(
          "the ngspice library '{}' stayed loaded after dlclose (is it linked into the program?), "
          "so it cannot be initialized again in this process",
          old_path));
    }
  }
  open(cb);
}

}  // namespace tkfac::cosim::detail
