#pragma once
// Command-line options from an OptionTable (tkfac/core/option_table.hpp): one CLI11 option per
// field with a flag of its own, bound to `target`, its current value shown as the default.
//
//   netlist_gen::NetlistOptions opts;
//   add_table_options(cmd, netlist_gen::netlist_option_table(), opts, "Circuit");
//   // after parsing: opts holds the values given; opts.validate() names the flag of a bad one
#include <CLI/CLI.hpp>
#include <algorithm>
#include <map>
#include <string>
#include <vector>

#include "tkfac/core/option_table.hpp"

namespace tkfac::cli {

// Which of a table's fields a command offers, and where its meaning differs from the table's
// help (e.g. relax, whose 0 for --max-step means tau / 20). Fields by their JSON name.
struct TableSelection {
  std::vector<std::string> only;            // the fields to add (empty: all)
  std::vector<std::string> except;          // fields the command does not offer
  std::map<std::string, std::string> help;  // field -> this command's help text
};

// Adds the table's options (as `selection` says) to `cmd`, in `group` if not empty. Enums are
// parsed as they are read (InputError naming the flag); checks are validate()'s job. Fields
// without a flag or with a shared flag are left to the command.
template <class S>
void add_table_options(CLI::App* cmd, const options::OptionTable<S>& table, S& target,
                       const std::string& group = "", const TableSelection& selection = {}) {
  const auto listed = [](const std::vector<std::string>& names, const std::string& name) {
    return std::find(names.begin(), names.end(), name) != names.end();
  };
  for (const options::Field<S>& f : table) {
    if (f.flag.empty() || f.shared_flag) continue;
    if (!selection.only.empty() && !listed(selection.only, f.name)) continue;
    if (listed(selection.except, f.name)) continue;
    const auto own_help = selection.help.find(f.name);
    const std::string& help = own_help != selection.help.end() ? own_help->second : f.help;
    CLI::Option* o = nullptr;
    if (f.is_enum()) {
      // The table outlives the command (a static), so the callback may hold on to `f`.
      o = cmd->add_option_function<std::string>(
                 f.flag, [&target, &f](const std::string& text) { f.enum_parse(target, text, f.flag); },
                 help)
              ->type_name("TEXT")
              ->default_str(f.text(target));
    } else {
      std::visit([&](auto m) { o = cmd->add_option(f.flag, target.*m, help); }, f.member);
      o->capture_default_str();
    }
    if (!group.empty()) o->group(group);
  }
}

// The fields whose own flag the user gave (`given(flag)`), for copy_fields.
template <class Given>
auto given_fields(Given given) {
  return [given](const auto& f) {
    return !f.flag.empty() && !f.shared_flag && given(f.flag.c_str());
  };
}

}  // namespace tkfac::cli
