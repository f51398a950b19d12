#include "ngspice_library.hpp"

#include <dlfcn.h>
#include <fmt/format.h>

#include <cstdlib>

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
