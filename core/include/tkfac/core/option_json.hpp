#pragma once
// JSON of an options struct from its OptionTable (option_table.hpp): one key per field, enums by
// name. For targets that link nlohmann_json (kfac's checkpoints); core itself does not.
//
//   nlohmann::json j = tkfac::options::write_json(netlist_option_table(), opts);
//   NetlistOptions back;                                   // missing keys keep these defaults
//   tkfac::options::read_json(netlist_option_table(), j, back, "kfac options");
#include <fmt/format.h>

#include <nlohmann/json.hpp>
#include <string>

#include "tkfac/core/error.hpp"
#include "tkfac/core/option_table.hpp"

namespace tkfac::options {

template <class S>
nlohmann::json write_json(const OptionTable<S>& table, const S& s) {
  nlohmann::json j = nlohmann::json::object();
  for (const Field<S>& f : table) {
    if (f.is_enum()) {
      j[f.name] = f.enum_text(s);
    } else {
      std::visit([&](auto m) { j[f.name] = s.*m; }, f.member);
    }
  }
  return j;
}

// Reads the fields present in `j` into `s`; a missing key (an older file) keeps s's value and
// unknown keys are ignored. Throws InputError naming `what` and the key for a wrong type or an
// unknown enum name. Checks are validate()'s job.
template <class S>
void read_json(const OptionTable<S>& table, const nlohmann::json& j, S& s,
               const std::string& what) {
  if (!j.is_object()) return;
  for (const Field<S>& f : table) {
    if (!j.contains(f.name)) continue;
    const nlohmann::json& v = j.at(f.name);
    try {
      if (f.is_enum()) {
        f.enum_parse(s, v.get<std::string>(), fmt::format("{}: {}", what, f.name));
      } else {
        std::visit(
            [&](auto m) { s.*m = v.get<std::remove_cvref_t<decltype(s.*m)>>(); }, f.member);
      }
    } catch (const nlohmann::json::exception&) {
      throw InputError(fmt::format("{}: \"{}\" has the wrong type", what, f.name));
    }
  }
}

}  // namespace tkfac::options
