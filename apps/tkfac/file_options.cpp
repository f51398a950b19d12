#include "file_options.hpp"

#include <map>
#include <string>
#include <vector>

#include "tkfac/core/output_file.hpp"

namespace tkfac::cli {
namespace {

struct FileOption {
  bool output = false;
  OutputNames names = OutputNames::file;
  bool dash_is_stdout = false;
};

std::map<const CLI::Option*, FileOption>& registry() {
  static std::map<const CLI::Option*, FileOption> r;
  return r;
}

void collect(const CLI::App& cmd, std::vector<FileUse>& uses) {
  for (const CLI::Option* o : cmd.get_options()) {
    const auto it = registry().find(o);
    if (it == registry().end() || o->count() == 0) continue;
    const std::string path = o->as<std::string>();
    const std::string option = o->get_name();
    const FileOption& f = it->second;
    if (path.empty() || (f.dash_is_stdout && path == "-")) continue;
    if (!f.output) {
      uses.push_back({path, option, false, false});
      continue;
    }
    switch (f.names) {
      case OutputNames::file:
        uses.push_back({path, option, true, false});
        break;
      case OutputNames::plot:
        for (const char* suffix : {"", ".dat", ".gp"}) uses.push_back({path + suffix, option, true, false});
        break;
      case OutputNames::prefix:
        for (const char* suffix : {"_matrix.csv", "_array.csv", "_rhs.csv"})
          uses.push_back({path + suffix, option, true, false});
        break;
      case OutputNames::directory:
        uses.push_back({path, option, true, true});
        break;
    }
  }
  for (const CLI::App* sub : cmd.get_subcommands()) collect(*sub, uses);
}

}  // namespace

CLI::Option* input_file(CLI::Option* o) {
  registry()[o] = FileOption{false, OutputNames::file, false};
  return o;
}

CLI::Option* output_file(CLI::Option* o, OutputNames names, bool dash_is_stdout) {
  registry()[o] = FileOption{true, names, dash_is_stdout};
  return o;
}

void check_command_files(const CLI::App& app) {
  std::vector<FileUse> uses;
  collect(app, uses);
  check_file_uses(uses);
}

}  // namespace tkfac::cli
