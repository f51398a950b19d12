#pragma once
// Text from outside (paths, file contents) bound for a SPICE netlist, a gnuplot script or an
// error message: one place decides what may pass.
//
//   header.push_back(tkfac::printable_text(model_path));      // a comment line stays one line
//   tkfac::check_script_text(plot_path, "--plot");           // a name that must pass unchanged
//
// A newline in a netlist comment starts a new card (`.control`, `shell`); in a gnuplot script a
// new command (`system(...)`); raw non-UTF-8 bytes in a message garble the terminal.
#include <string>
#include <string_view>

namespace tkfac {

// `text` with every control character (C0, DEL) and every byte that is not part of valid UTF-8
// written as an escape (\n, \r, \t, else \xHH); everything else passes. With keep_newlines,
// '\n' passes (multi-line messages).
std::string printable_text(std::string_view text, bool keep_newlines = false);

// Whether printable_text(text) == text: no control characters, valid UTF-8.
bool is_printable_text(std::string_view text);

// Throws InputError naming `option` when `text` (a file name that reaches a script or netlist
// verbatim, where escaping would change it) is not printable text.
void check_script_text(std::string_view text, const std::string& option);

}  // namespace tkfac
