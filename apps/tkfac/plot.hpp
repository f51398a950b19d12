#pragma once
// Line plots through gnuplot: PNG (pngcairo) or SVG, chosen by the output file's extension.
//
//   tkfac::cli::PlotPanel loss{.title = "training loss", .xlabel = "step", .ylabel = "loss"};
//   loss.series.push_back({"adam", steps, losses});
//   tkfac::cli::check_plot_path("out.png", "--plot");           // early, before long work
//   tkfac::cli::write_plot("out.png", {loss}, {}, "--plot");     // writes out.png atomically
//
// The data (FILE.dat, one gnuplot index per series) and the script (FILE.gp) are kept next to
// the figure by default, so `gnuplot FILE.gp` re-makes it and the script can be restyled.
// Non-finite points are left out (e.g. steps without a test evaluation).
#include <string>
#include <vector>

namespace tkfac::cli {

struct PlotSeries {
  std::string label;
  std::vector<double> x, y;
  std::string style = {};  // gnuplot `with` style, e.g. "points pt 7"; empty: lines (points if one)
};

struct PlotPanel {
  std::string title;
  std::string xlabel;
  std::string ylabel;
  bool log_x = false;
  bool log_y = false;
  std::string key = "top right";  // gnuplot `set key` position
  std::vector<PlotSeries> series;
  // Non-empty: the panel is a signed heatmap of this heatmap_rows x heatmap_cols matrix
  // (row-major; row 0 at the top; blue < 0 < red, white at 0, symmetric color range) and
  // `series` is not drawn. No color box label: put the unit in the title.
  std::vector<double> heatmap;
  int heatmap_rows = 0;
  int heatmap_cols = 0;
};

struct PlotOptions {
  std::string title;      // over the whole figure
  int columns = 0;        // panels per row; 0: min(3, number of panels)
  int panel_width = 480;  // pixels per panel (PNG) or points (SVG)
  int panel_height = 360;
  bool keep_sources = true;  // keep FILE.dat and FILE.gp beside the figure
};

// Throws InputError naming `option` unless `path` ends in .png or .svg and can be written.
void check_plot_path(const std::string& path, const std::string& option);

// Runs gnuplot; the figure appears whole or not at all. Throws InputError naming `option` if
// gnuplot is missing or fails (with its error text).
void write_plot(const std::string& path, const std::vector<PlotPanel>& panels,
                const PlotOptions& options = {}, const std::string& option = "--plot");

}  // namespace tkfac::cli
