#pragma once
// One description per options struct: for each field its JSON key, command-line flag, help text
// and check, from which the command line (apps/tkfac/option_cli.hpp), the checkpoint JSON
// (option_json.hpp) and validate() messages are made. The default is the struct's in-class one.
//
//   const tkfac::options::OptionTable<Opts> table = {
//       tkfac::options::field("rate", "--rate", &Opts::rate, "steps per second",
//                             tkfac::options::positive("a finite rate > 0")),
//       tkfac::options::enum_field("mode", "--mode", &Opts::mode, parse_mode, mode_name,
//                                  {"fast", "exact"}, "fast | exact")};
//   tkfac::options::check(table, opts);  // InputError "--rate (rate) = -1: expected ..."
//
// Adding an option is one line in its struct's table plus its use.
#include <fmt/format.h>
#include <fmt/ranges.h>

#include <cmath>
#include <cstdint>
#include <functional>
#include <string>
#include <type_traits>
#include <variant>
#include <vector>

#include "tkfac/core/error.hpp"

namespace tkfac::options {

// What a numeric field must satisfy; `expected` completes "expected ..." in the message.
struct Check {
  bool (*ok)(double) = nullptr;  // nullptr: any value
  std::string expected;
};
inline Check finite(std::string expected) {
  return {[](double v) { return std::isfinite(v); }, std::move(expected)};
}
inline Check positive(std::string expected) {
  return {[](double v) { return std::isfinite(v) && v > 0.0; }, std::move(expected)};
}
inline Check non_negative(std::string expected) {
  return {[](double v) { return std::isfinite(v) && v >= 0.0; }, std::move(expected)};
}
inline Check at_least_one(std::string expected) {
  return {[](double v) { return v >= 1.0; }, std::move(expected)};
}
// [0, 1)
inline Check unit_interval(std::string expected) {
  return {[](double v) { return v >= 0.0 && v < 1.0; }, std::move(expected)};
}
// (0, 1)
inline Check open_unit_interval(std::string expected) {
  return {[](double v) { return v > 0.0 && v < 1.0; }, std::move(expected)};
}

template <class S>
struct Field {
  using Member = std::variant<double S::*, int S::*, unsigned S::*, std::uint64_t S::*, bool S::*,
                              std::string S::*>;
  std::string name;  // JSON key (the member's name)
  std::string flag;  // "--rate"; empty: no flag of its own (set by the program)
  std::string help;
  // true: the flag also sets other structs' fields (e.g. a learning rate every optimizer takes),
  // so the command adds it itself; the table still names it in messages.
  bool shared_flag = false;
  Member member{};  // plain fields; for enums, unused (text access below)
  // Enums: the value as text and back (parse throws InputError naming `option`).
  std::function<std::string(const S&)> enum_text;
  std::function<void(S&, const std::string& text, const std::string& option)> enum_parse;
  std::vector<std::string> choices;  // enums and strings with fixed values: the accepted ones
  Check check;

  bool is_enum() const { return static_cast<bool>(enum_parse); }
  // "--flag (name)", or "name" without a flag: messages name what a user typed and the key.
  std::string label() const { return flag.empty() ? name : fmt::format("{} ({})", flag, name); }
  // The value as the command line would take it (doubles in shortest round-trip form).
  std::string text(const S& s) const {
    if (is_enum()) return enum_text(s);
    return std::visit(
        [&](auto m) -> std::string {
          using T = std::remove_cvref_t<decltype(s.*m)>;
          if constexpr (std::is_same_v<T, bool>) {
            return s.*m ? "true" : "false";
          } else {
            return fmt::format("{}", s.*m);
          }
        },
        member);
  }
  void copy(const S& from, S& to) const {
    if (is_enum()) {
      enum_parse(to, enum_text(from), label());
    } else {
      std::visit([&](auto m) { to.*m = from.*m; }, member);
    }
  }
};

template <class S>
using OptionTable = std::vector<Field<S>>;

// A plain field: double, int, unsigned, std::uint64_t, bool or std::string.
template <class S, class T>
Field<S> field(std::string name, std::string flag, T S::*member, std::string help,
               Check check = {}) {
  Field<S> f;
  f.name = std::move(name);
  f.flag = std::move(flag);
  f.help = std::move(help);
  f.member = member;
  f.check = std::move(check);
  return f;
}

// A string field that takes one of `choices`.
template <class S>
Field<S> choice_field(std::string name, std::string flag, std::string S::*member,
                      std::vector<std::string> choices, std::string help) {
  Field<S> f = field(std::move(name), std::move(flag), member, std::move(help));
  f.choices = std::move(choices);
  return f;
}

// An enum field, through its parse(text, option) and to_string(value) functions.
template <class S, class E, class Parse, class ToString>
Field<S> enum_field(std::string name, std::string flag, E S::*member, Parse parse,
                    ToString to_string, std::vector<std::string> choices, std::string help) {
  Field<S> f;
  f.name = std::move(name);
  f.flag = std::move(flag);
  f.help = std::move(help);
  f.choices = std::move(choices);
  f.enum_text = [member, to_string](const S& s) { return std::string(to_string(s.*member)); };
  f.enum_parse = [member, parse](S& s, const std::string& text, const std::string& option) {
    s.*member = parse(text, option);
  };
  return f;
}

// The same field with a flag shared with other structs (see Field::shared_flag).
template <class S>
Field<S> shared(Field<S> f) {
  f.shared_flag = true;
  return f;
}

// Runs every field's check. Throws InputError "<flag> (<name>) = <value>: expected <what>".
template <class S>
void check(const OptionTable<S>& table, const S& s) {
  for (const Field<S>& f : table) {
    if (f.is_enum()) {
      // A value outside the enum (a cast) has no name: to_string and parse do not agree.
      try {
        S probe = s;
        f.enum_parse(probe, f.enum_text(s), f.label());
      } catch (const InputError&) {
        throw InputError(fmt::format("{}: expected one of: {}", f.label(), fmt::join(f.choices, ", ")));
      }
      continue;
    }
    if (!f.choices.empty()) {
      const std::string v = f.text(s);
      bool known = false;
      for (const auto& c : f.choices) known = known || c == v;
      if (!known) {
        throw InputError(fmt::format("{} = '{}': expected one of: {}", f.label(), v,
                                     fmt::join(f.choices, ", ")));
      }
      continue;
    }
    if (f.check.ok == nullptr) continue;
    const double v = std::visit(
        [&](auto m) -> double {
          using T = std::remove_cvref_t<decltype(s.*m)>;
          if constexpr (std::is_arithmetic_v<T>) {
            return static_cast<double>(s.*m);
          } else {
            return 0.0;  // strings carry choices, not numeric checks
          }
        },
        f.member);
    if (!f.check.ok(v)) {
      throw InputError(fmt::format("{} = {}: expected {}", f.label(), f.text(s), f.check.expected));
    }
  }
}

// The flag of the field called `name` (InputError if the table has none: a programming slip).
template <class S>
const std::string& flag_of(const OptionTable<S>& table, const std::string& name) {
  for (const Field<S>& f : table) {
    if (f.name == name) return f.flag;
  }
  throw InputError(fmt::format("no option field '{}'", name));
}

// Copies the fields for which `pick(field)` holds from `from` to `to` (e.g. the options a user
// gave on the command line over a checkpoint's).
template <class S, class Pick>
void copy_fields(const OptionTable<S>& table, const S& from, S& to, Pick pick) {
  for (const Field<S>& f : table) {
    if (pick(f)) f.copy(from, to);
  }
}

}  // namespace tkfac::options
