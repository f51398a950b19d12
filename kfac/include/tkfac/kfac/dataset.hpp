#pragma once
// Classification data sets: Fashion-MNIST (Debian package dataset-fashion-mnist) and a seeded
// synthetic Gaussian-mixture set for fast tests.
//
//   tkfac::kfac::FashionMnistOptions fo;
//   fo.pool = 4;                                               // 28x28 -> 7x7
//   tkfac::kfac::Dataset train = tkfac::kfac::load_fashion_mnist(tkfac::kfac::Split::train, fo);
//   tkfac::kfac::Batch b = train.batch({0, 1, 2});             // 49 x 3 doubles, 3 labels
//
// Fashion-MNIST pixels are scaled to [0, 1] (byte / 255) and then average-pooled over
// pool x pool blocks; no other normalization (no mean subtraction). Images are stored row by
// row, one image per column of `x`.
#include <Eigen/Dense>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "tkfac/kfac/optimizer.hpp"

namespace tkfac::kfac {

struct Dataset {
  std::string name;
  Eigen::MatrixXf x;   // features x examples (float keeps 60000 x 784 at 188 MB)
  std::vector<int> y;  // labels, 0 .. classes-1
  int classes = 0;

  int features() const { return static_cast<int>(x.rows()); }
  long size() const { return static_cast<long>(x.cols()); }
  // The examples at `indices`, converted to double.
  Batch batch(const std::vector<long>& indices) const;
  // Examples [begin, begin + count).
  Batch slice(long begin, long count) const;
};

enum class Split { train, test };

struct FashionMnistOptions {
  std::string directory = "/usr/share/datasets/fashion-mnist";
  int pool = 1;           // 1, 2 or 4: average over pool x pool blocks (28 -> 28, 14, 7)
  long limit = 0;         // > 0: keep only the first `limit` examples
  void validate() const;  // throws InputError naming the option
};

// Reads <directory>/{train,t10k}-{images-idx3,labels-idx1}-ubyte.gz. Throws InputError naming
// the package (apt-get install dataset-fashion-mnist) when files are missing, and naming the file
// and the package (apt-get install --reinstall dataset-fashion-mnist) when one is corrupt or
// truncated.
Dataset load_fashion_mnist(Split split, const FashionMnistOptions& options = {});

// Reads one gzip'd IDX pair (images: magic 0x00000803, n x rows x cols bytes; labels: magic
// 0x00000801, n bytes, each < 10). Pooling as in FashionMnistOptions.
Dataset read_idx_dataset(const std::string& images_path, const std::string& labels_path,
                         int pool = 1, long limit = 0);

// Average pooling of one rows x cols image stored row by row; rows and cols divisible by pool.
Eigen::VectorXf average_pool(const Eigen::VectorXf& image, int rows, int cols, int pool);

// A seeded Gaussian mixture: class c has mean mu_c ~ N(0, separation^2 I) in `features`
// dimensions; examples are mu_y + N(0, noise^2 I), labels uniform.
struct SyntheticOptions {
  int features = 8;
  int classes = 3;
  long train_size = 512;
  long test_size = 256;
  double separation = 1.0;
  double noise = 1.0;
  std::uint64_t seed = 1;
  void validate() const;
};
std::pair<Dataset, Dataset> make_synthetic(const SyntheticOptions& options = {});

// The data a command trains on or draws a batch from, by name: what `tkfac train` and
// `tkfac netlist --model` read (one loader, so both see the same examples).
//
//   tkfac::kfac::DataOptions d;
//   d.dataset = "synthetic";
//   tkfac::kfac::Data data = tkfac::kfac::load_data(d);  // data.train, data.test
struct DataOptions {
  std::string dataset = "fashion-mnist";                    // fashion-mnist | synthetic
  std::string directory = FashionMnistOptions{}.directory;  // Fashion-MNIST files
  int pool = 4;            // Fashion-MNIST average pooling (FashionMnistOptions::pool)
  long train_limit = 0;    // > 0: Fashion-MNIST keeps the first N training examples;
                           // synthetic makes N training examples
  std::uint64_t seed = 1;  // synthetic: the mixture and its examples
  void validate() const;   // throws InputError for an unknown --dataset
};
struct Data {
  Dataset train;
  Dataset test;             // empty unless asked for
  std::string description;  // e.g. "fashion-mnist, pool 4" or "synthetic, seed 1"
};
// Validates `options` (and the Fashion-MNIST options it implies) and loads the training split;
// the test split (never limited) too when `with_test`.
Data load_data(const DataOptions& options, bool with_test = true);

// The first batch a training run with data-order seed `seed` draws (epoch 0 of its order,
// epoch_permutation in trainer.hpp): the examples K-FAC's first step sees.
Batch first_batch(const Dataset& train, int batch_size, std::uint64_t seed);

}  // namespace tkfac::kfac
