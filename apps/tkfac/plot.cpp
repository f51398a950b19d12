#include "plot.hpp"

#include <fmt/format.h>
#include <sys/wait.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>

#include "tkfac/core/error.hpp"
#include "tkfac/core/output_file.hpp"
#include "tkfac/core/text.hpp"

namespace tkfac::cli {
namespace fs = std::filesystem;

namespace {

std::string extension_of(const std::string& path) {
  std::string ext = fs::path(path).extension().string();
  std::transform(ext.begin(), ext.end(), ext.begin(),
                 [](unsigned char c) { return std::tolower(c); });
  return ext;
}

// A gnuplot single-quoted string: '' stands for one quote. The text is made one printable line
// first (a newline would end the command and start another, e.g. system("...")); file names
// reaching here passed check_plot_path, so they are unchanged.
std::string quoted(const std::string& text) {
  const std::string s = printable_text(text);
  std::string out = "'";
  for (char c : s) {
    out += c;
    if (c == '\'') out += '\'';
  }
  return out + "'";
}

// A shell single-quoted word.
std::string shell_quoted(const std::string& s) {
  std::string out = "'";
  for (char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

std::string read_text(const std::string& path) {
  std::ifstream in(path);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

// A signed heatmap panel: its data block (x y value per cell, a blank line after each row, for
// gnuplot's `with image`) goes to `data` as index `index`; returns the panel's commands, which
// restore the settings line panels expect.
std::string heatmap_commands(const PlotPanel& panel, int index, std::ostringstream& data) {
  double largest = 0.0;
  for (double v : panel.heatmap) {
    if (std::isfinite(v)) largest = std::max(largest, std::abs(v));
  }
  if (largest == 0.0) largest = 1.0;
  data << "# panel heatmap: " << printable_text(panel.title) << "\n";
  for (int i = 0; i < panel.heatmap_rows; ++i) {
    for (int j = 0; j < panel.heatmap_cols; ++j) {
      const double v =
          panel.heatmap[static_cast<std::size_t>(i) * static_cast<std::size_t>(panel.heatmap_cols) +
                        static_cast<std::size_t>(j)];
      data << fmt::format("{} {} {:.10g}\n", j, i, std::isfinite(v) ? v : 0.0);
    }
    data << "\n";
  }
  data << "\n";
  std::ostringstream c;
  c << fmt::format("set title {}\nset xlabel {}\nset ylabel {}\n", quoted(panel.title),
                   quoted(panel.xlabel), quoted(panel.ylabel));
  c << "unset logscale x\nunset logscale y\nunset grid\n";
  c << "set palette defined (-1 'blue', 0 'white', 1 'red')\n";
  // The color box's label would collide with a neighbouring panel's y label: the unit goes in
  // the title instead (heatmap_label).
  c << fmt::format("set cbrange [{:.10g}:{:.10g}]\n", -largest, largest);
  c << fmt::format("set xrange [-0.5:{}]\nset yrange [{}:-0.5]\n", panel.heatmap_cols - 0.5,
                   panel.heatmap_rows - 0.5);
  c << fmt::format("plot data index {} using 1:2:3 with image notitle\n", index);
  c << "set xrange [*:*]\nset yrange [*:*]\nset autoscale cb\nset grid\n";
  return c.str();
}

}  // namespace

void check_plot_path(const std::string& path, const std::string& option) {
  const std::string ext = extension_of(path);
  if (ext != ".png" && ext != ".svg") {
    throw InputError(fmt::format("{} '{}': expected a .png or .svg file name", option,
                                 printable_text(path)));
  }
  // The name is written into the gnuplot script and its command line.
  check_script_text(path, option);
  check_writable(path, option);
}

void write_plot(const std::string& path, const std::vector<PlotPanel>& panels,
                const PlotOptions& options, const std::string& option) {
  check_plot_path(path, option);
  if (panels.empty()) throw InputError(fmt::format("{}: nothing to plot", option));
  if (!file_output()) return;  // another process (MPI rank 0) writes it
  const bool svg = extension_of(path) == ".svg";
  const int n = static_cast<int>(panels.size());
  const int cols = options.columns > 0 ? std::min(options.columns, n) : std::min(3, n);
  const int rows = (n + cols - 1) / cols;
  const int width = cols * options.panel_width;
  const int height = rows * options.panel_height + (options.title.empty() ? 0 : 30);

  std::random_device rd;
  const std::string tag = fmt::format("{:08x}", rd());
  const std::string data_path = options.keep_sources ? path + ".dat" : path + "." + tag + ".dat";
  const std::string script_path = options.keep_sources ? path + ".gp" : path + "." + tag + ".gp";
  const std::string tmp_out = path + "." + tag + ".tmp" + (svg ? ".svg" : ".png");
  const std::string err_path = path + "." + tag + ".err";

  // Data: one block per series, blocks separated by two blank lines (gnuplot `index`).
  std::ostringstream data;
  std::ostringstream plots;
  int index = 0;
  for (int p = 0; p < n; ++p) {
    const auto& panel = panels[static_cast<std::size_t>(p)];
    if (!panel.heatmap.empty()) {
      plots << heatmap_commands(panel, index, data);
      ++index;
      continue;
    }
    std::vector<std::string> items;
    for (const auto& s : panel.series) {
      std::ostringstream block;
      int points = 0;
      for (std::size_t i = 0; i < std::min(s.x.size(), s.y.size()); ++i) {
        if (!std::isfinite(s.x[i]) || !std::isfinite(s.y[i])) continue;
        if ((panel.log_x && s.x[i] <= 0) || (panel.log_y && s.y[i] <= 0)) continue;
        block << fmt::format("{:.10g} {:.10g}\n", s.x[i], s.y[i]);
        ++points;
      }
      if (points == 0) continue;
      data << "# panel " << p << ": " << printable_text(s.label) << "\n" << block.str() << "\n\n";
      // A style that sets its own line width keeps it; the others get 1.5.
      const bool own_width = s.style.find(" lw ") != std::string::npos;
      items.push_back(fmt::format("data index {} using 1:2 with {}{} title {}", index,
                                  !s.style.empty() ? s.style
                                  : points == 1    ? std::string("points")
                                                   : std::string("lines"),
                                  own_width ? "" : " lw 1.5", quoted(s.label)));
      ++index;
    }
    plots << fmt::format("set title {}\nset xlabel {}\nset ylabel {}\n", quoted(panel.title),
                         quoted(panel.xlabel), quoted(panel.ylabel));
    plots << "set key " << panel.key << "\n";
    // Log axes labelled in powers of ten ("1e-06"), not as long decimals ("0.0000010").
    plots << (panel.log_x ? "set logscale x\nset format x '%.0e'\n"
                          : "unset logscale x\nset format x '% h'\n");
    plots << (panel.log_y ? "set logscale y\nset format y '%.0e'\n"
                          : "unset logscale y\nset format y '% h'\n");
    if (items.empty()) {
      plots << "plot 1/0 notitle\n";
    } else {
      plots << "plot ";
      for (std::size_t i = 0; i < items.size(); ++i) plots << (i ? ", \\\n     " : "") << items[i];
      plots << "\n";
    }
  }

  std::ostringstream script;
  script << "# Written by tkfac; re-make the figure with: gnuplot "
         << fs::path(script_path).filename().string() << "\n";
  if (svg) {
    script << fmt::format("set terminal svg size {},{} font 'sans,11' background rgb 'white'\n",
                          width, height);
  } else {
    script << fmt::format("set terminal pngcairo size {},{} font 'sans,10'\n", width, height);
  }
  script << "set termoption noenhanced\n";
  script << "if (!exists(\"output\")) output = " << quoted(fs::path(path).filename().string())
         << "\n";
  script << "set output output\n";
  script << "data = " << quoted(fs::path(data_path).filename().string()) << "\n";
  script << "set grid\n";
  script << fmt::format("set multiplot layout {},{}{}\n", rows, cols,
                        options.title.empty() ? "" : " title " + quoted(options.title));
  script << plots.str() << "unset multiplot\nunset output\n";

  const auto cleanup = [&](bool failed) {
    std::remove(tmp_out.c_str());
    std::remove(err_path.c_str());
    if (failed || !options.keep_sources) {
      std::remove(data_path.c_str());
      std::remove(script_path.c_str());
    }
  };
  try {
    write_file_atomically(data_path, option, [&](std::ostream& os) { os << data.str(); });
    write_file_atomically(script_path, option, [&](std::ostream& os) { os << script.str(); });
    // Run in the figure's directory so the script's relative names work there and later.
    const fs::path dir = fs::absolute(path).parent_path();
    const std::string cmd =
        fmt::format("cd {} && gnuplot -e {} {} 2> {}", shell_quoted(dir.string()),
                    shell_quoted("output=" + quoted(fs::path(tmp_out).filename().string())),
                    shell_quoted(fs::path(script_path).filename().string()),
                    shell_quoted(fs::absolute(err_path).string()));
    const int rc = std::system(cmd.c_str());
    const std::string err = read_text(err_path);
    if (rc != 0) {
      if (WIFEXITED(rc) && WEXITSTATUS(rc) == 127) {
        throw InputError(
            fmt::format("{} '{}': gnuplot not found (apt-get install gnuplot-nox)", option, path));
      }
      throw InputError(fmt::format("{} '{}': gnuplot failed: {}", option, path, err));
    }
    std::error_code ec;
    if (!fs::exists(tmp_out, ec) || fs::file_size(tmp_out, ec) == 0) {
      throw InputError(fmt::format("{} '{}': gnuplot wrote no figure: {}", option, path, err));
    }
    fs::rename(tmp_out, path, ec);
    if (ec)
      throw InputError(fmt::format("{} '{}': cannot replace file: {}", option, path, ec.message()));
  } catch (...) {
    cleanup(true);
    throw;
  }
  cleanup(false);
}

}  // namespace tkfac::cli
