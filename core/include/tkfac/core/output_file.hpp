#pragma once
// Output files: one policy for every command, and writes that are whole or absent.
//
//   tkfac::check_file_uses({{"M.csv", "--matrix"}, {"x.csv", "--output", true}});  // early
//   tkfac::write_file_atomically(path, "--output", [&](std::ostream& os) { os << text; });
//
// The policy: an output must not be one of the command's inputs or another of its outputs (the
// same device and inode when the file exists, else the same canonical path), and must be a
// regular file or a new name: a symlink, FIFO, device node, socket or directory is refused, so
// `-o /dev/null` or a link planted at the output's name is never replaced. A command that
// writes to stdout for `-` handles `-` itself before this policy sees the name.
//
// The content goes to a temporary file in the same directory, flushed to disk (fsync), renamed
// over `path` once complete, and the directory entry is flushed too; an error (ours or the
// disk's) never leaves a partial file behind. SIGINT, SIGTERM and SIGHUP are held back while a
// file is written and delivered right after, so a stop never leaves the temporary file either.
#include <signal.h>

#include <functional>
#include <iosfwd>
#include <string>
#include <vector>

namespace tkfac {

// One file a command reads or writes, with the option that named it.
struct FileUse {
  std::string path;
  std::string option;
  bool output = false;
  bool directory = false;  // an output that is a directory the command creates (e.g. --all DIR)
};

// Throws InputError naming both options when an output is also an input or another output, and
// checks every (file) output with check_writable. Checks nothing where file_output() is off.
void check_file_uses(const std::vector<FileUse>& uses);

// Throws InputError (naming `option` and the path) if `path` cannot be created or replaced, or
// is not a regular file (symlink, FIFO, device node, socket, directory). Checks nothing where
// file_output() is off: the process that writes (MPI rank 0) checks, and may have written it.
void check_writable(const std::string& path, const std::string& option);

void write_file_atomically(const std::string& path, const std::string& option,
                           const std::function<void(std::ostream&)>& write);

// While one lives, SIGINT, SIGTERM and SIGHUP are blocked in this thread (pending ones are
// delivered when the last goes): for a group of writes that must finish or be cleaned up
// together (a directory of files).
class HoldStopSignals {
 public:
  HoldStopSignals();
  ~HoldStopSignals();
  HoldStopSignals(const HoldStopSignals&) = delete;
  HoldStopSignals& operator=(const HoldStopSignals&) = delete;

 private:
  bool restore_;
  sigset_t previous_;
};

// Whether this process writes output files (default: yes). A process that shares a job's work
// but not its output (an MPI rank other than 0) turns it off; write_file_atomically then
// writes nothing, and the output checks check nothing.
void set_file_output(bool enabled);
bool file_output();

}  // namespace tkfac
