#pragma once
// Output files that are either written whole or not at all.
//
//   tkfac::check_writable(path, "--output");           // early: fail before any long work
//   tkfac::write_file_atomically(path, "--output", [&](std::ostream& os) { os << text; });
//
// The content goes to a temporary file in the same directory, renamed over `path` only once it
// is complete, so an error (ours or the disk's) never leaves a partial file behind.
#include <functional>
#include <iosfwd>
#include <string>

namespace tkfac {

// Throws InputError (naming `option` and the path) if `path` cannot be created or replaced.
void check_writable(const std::string& path, const std::string& option);

void write_file_atomically(const std::string& path, const std::string& option,
                           const std::function<void(std::ostream&)>& write);

// Whether this process writes output files (default: yes). A process that shares a job's work
// but not its output (an MPI rank other than 0) turns it off; write_file_atomically then checks
// the path and writes nothing.
void set_file_output(bool enabled);
bool file_output();

}  // namespace tkfac
