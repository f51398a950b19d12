#include "tkfac/core/text.hpp"

#include <fmt/format.h>

#include "tkfac/core/error.hpp"

namespace tkfac {
namespace {

// Length of the valid UTF-8 sequence starting at text[i] (no overlongs, no surrogates, at most
// U+10FFFF), or 0 if it is not one.
std::size_t utf8_length(std::string_view text, std::size_t i) {
  const auto byte = [&](std::size_t k) { return static_cast<unsigned char>(text[k]); };
  const unsigned char c = byte(i);
  std::size_t n = 0;
  unsigned lo = 0x80, hi = 0xBF;  // the range of the second byte
  if (c < 0x80) return 1;
  if (c >= 0xC2 && c <= 0xDF) {
    n = 2;
  } else if (c >= 0xE0 && c <= 0xEF) {
    n = 3;
    if (c == 0xE0) lo = 0xA0;
    if (c == 0xED) hi = 0x9F;
  } else if (c >= 0xF0 && c <= 0xF4) {
    n = 4;
    if (c == 0xF0) lo = 0x90;
    if (c == 0xF4) hi = 0x8F;
  } else {
    return 0;
  }
  if (i + n > text.size()) return 0;
  if (byte(i + 1) < lo || byte(i + 1) > hi) return 0;
  for (std::size_t k = 2; k < n; ++k) {
    if (byte(i + k) < 0x80 || byte(i + k) > 0xBF) return 0;
  }
  return n;
}

bool is_control(unsigned char c) { return c < 0x20 || c == 0x7F; }

}  // namespace

std::string printable_text(std::string_view text, bool keep_newlines) {
  std::string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size();) {
    const unsigned char c = static_cast<unsigned char>(text[i]);
    const std::size_t n = utf8_length(text, i);
    if (n > 1) {
      out.append(text.substr(i, n));
      i += n;
      continue;
    }
    if (n == 1 && !is_control(c)) {
      out += static_cast<char>(c);
    } else if (c == '\n') {
      out += keep_newlines ? std::string("\n") : std::string("\\n");
    } else if (c == '\r') {
      out += "\\r";
    } else if (c == '\t') {
      out += "\\t";
    } else {
      out += fmt::format("\\x{:02x}", c);
    }
    ++i;
  }
  return out;
}

bool is_printable_text(std::string_view text) { return printable_text(text) == text; }

void check_script_text(std::string_view text, const std::string& option) {
  if (!is_printable_text(text)) {
    throw InputError(fmt::format(
        "{} '{}': contains a control character (newline, tab, ...) or bytes that are not UTF-8; "
        "expected a plain name (it is written into a script or netlist)",
        option, printable_text(text)));
  }
}

}  // namespace tkfac
