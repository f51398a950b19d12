#pragma once
// Private to cosim: the ngspice shared library, loaded with dlopen rather than linked.
//
// Why not link it: ngspice 39.3 cannot be initialized twice in one image (a second ngSpice_Init
// segfaults inside the library), and after it calls ControlledExit ("cannot recover and awaits to
// be detached") its global state may stay broken (seen: after a numparam error every later
// ngSpice_Circ failed with "Please check your input netlist"). The only way back is to unload the
// image and load it afresh, which needs dlopen/dlclose and no link-time reference to the library.
#include <ngspice/sharedspice.h>

#include <string>

namespace tkfac::cosim::detail {

struct NgspiceCallbacks {
  SendChar* send_char = nullptr;
  ControlledExit* controlled_exit = nullptr;
  SendData* send_data = nullptr;
  SendInitData* send_init_data = nullptr;
  void* user = nullptr;
};

class NgspiceLibrary {
 public:
  // Loads the library (if not loaded) and calls ngSpice_Init once per loaded image.
  // Throws SimulationError if the library cannot be found or lacks a symbol.
  void open(const NgspiceCallbacks& callbacks);
  // Unloads the image and loads and initializes a fresh one. Throws SimulationError if the old
  // image stays resident (something else holds it), since it cannot be initialized again.
  void reload(const NgspiceCallbacks& callbacks);
  bool is_open() const { return handle_ != nullptr; }
  const std::string& path() const { return path_; }

  int command(const char* text) const { return command_(const_cast<char*>(text)); }
  int circ(char** lines) const { return circ_(lines); }
  // Frees the commands ngspice keeps (ngSpice_Command(NULL)): every command's words stay in its
  // control-structure list until then, ~0.2 to 0.45 KB each (39.3).
  void forget_commands() const { command_(nullptr); }

 private:
  void load_image();

  void* handle_ = nullptr;
  std::string path_;
  decltype(&ngSpice_Init) init_ = nullptr;
  decltype(&ngSpice_Command) command_ = nullptr;
  decltype(&ngSpice_Circ) circ_ = nullptr;
};

}  // namespace tkfac::cosim::detail
