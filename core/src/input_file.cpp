#include "tkfac/core/input_file.hpp"

#include <fcntl.h>
#include <fmt/format.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstdlib>
#include <cstring>
#include <string_view>

#include "tkfac/core/error.hpp"

namespace tkfac {
namespace {

constexpr std::uint64_t kDefaultMaxInputBytes = std::uint64_t{512} << 20;

std::string kind_of(mode_t mode) {
  if (S_ISDIR(mode)) return "a directory";
  if (S_ISFIFO(mode)) return "a FIFO (named pipe)";
  if (S_ISCHR(mode)) return "a character device";
  if (S_ISBLK(mode)) return "a block device";
  if (S_ISSOCK(mode)) return "a socket";
  return "not a regular file";
}

class Fd {
 public:
  explicit Fd(int fd) : fd_(fd) {}
  ~Fd() {
    if (fd_ >= 0) ::close(fd_);
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const { return fd_; }

 private:
  int fd_;
};

}  // namespace

std::uint64_t max_input_bytes() {
  const char* env = std::getenv("TKFAC_MAX_INPUT_BYTES");
  if (env == nullptr || *env == '\0') return kDefaultMaxInputBytes;
  const std::string_view s(env);
  std::uint64_t v = 0;
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || end != s.data() + s.size() || v == 0) {
    throw InputError(fmt::format(
        "TKFAC_MAX_INPUT_BYTES: '{}' is not a positive integer (bytes; unset it for the default "
        "{})",
        s, kDefaultMaxInputBytes));
  }
  return v;
}

std::string read_input_file(const std::string& path, const std::string& what) {
  const std::string name = what.empty() ? path : fmt::format("{} '{}'", what, path);
  // O_NONBLOCK: opening a FIFO for reading would otherwise wait for a writer forever.
  const Fd fd(::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY));
  if (fd.get() < 0) {
    throw InputError(fmt::format("{}: cannot open file for reading ({})", name,
                                 std::strerror(errno)));
  }
  struct stat st{};
  if (::fstat(fd.get(), &st) != 0) {
    throw InputError(fmt::format("{}: cannot read its status ({})", name, std::strerror(errno)));
  }
  if (!S_ISREG(st.st_mode)) {
    throw InputError(fmt::format("{}: is {}, expected a regular file", name, kind_of(st.st_mode)));
  }
  const std::uint64_t limit = max_input_bytes();
  const auto size = static_cast<std::uint64_t>(st.st_size);
  if (size > limit) {
    throw InputError(fmt::format(
        "{}: is {} bytes, more than the input limit of {} bytes (set TKFAC_MAX_INPUT_BYTES to "
        "read larger files)",
        name, size, limit));
  }
  std::string text;
  text.resize(static_cast<std::size_t>(size));
  std::size_t got = 0;
  // The file may grow or shrink while read: read what its size said, then check for more.
  while (true) {
    if (got == text.size()) {
      if (text.size() >= limit) {
        char extra = 0;
        const ssize_t r = ::read(fd.get(), &extra, 1);
        if (r > 0) {
          throw InputError(fmt::format(
              "{}: grew past the input limit of {} bytes while read (set TKFAC_MAX_INPUT_BYTES "
              "to read larger files)",
              name, limit));
        }
        break;
      }
      text.resize(std::min<std::uint64_t>(limit, text.size() + 65536));
    }
    const ssize_t r = ::read(fd.get(), text.data() + got, text.size() - got);
    if (r < 0) {
      if (errno == EINTR) continue;
      throw InputError(fmt::format("{}: read error ({})", name, std::strerror(errno)));
    }
    if (r == 0) break;
    got += static_cast<std::size_t>(r);
  }
  text.resize(got);
  return text;
}

}  // namespace tkfac
