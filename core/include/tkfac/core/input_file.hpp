#pragma once
// Reading an input file whole, with bounds: only a regular file, and at most a size limit.
//
//   std::string text = tkfac::read_input_file("M.csv", "--matrix");   // InputError otherwise
//
// A FIFO, a device (/dev/zero), a directory or a socket is refused before anything is read (the
// file is opened non-blocking, so a FIFO nobody writes cannot hang the open), and so is a file
// larger than max_input_bytes(). Used by every reader of user files (CSV matrices, checkpoints).
#include <cstdint>
#include <string>

namespace tkfac {

// The largest input file read: 512 MiB, or $TKFAC_MAX_INPUT_BYTES (a positive integer) when set.
std::uint64_t max_input_bytes();

// The whole content of `path`. `what` names the input in messages (an option, or empty).
// Throws InputError naming the file and what was expected.
std::string read_input_file(const std::string& path, const std::string& what = "");

}  // namespace tkfac
