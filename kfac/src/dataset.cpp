#include "tkfac/kfac/dataset.hpp"

#include <fmt/format.h>
#include <zlib.h>

#include <cstdint>
#include <filesystem>
#include <random>

#include "tkfac/core/error.hpp"
#include "tkfac/kfac/trainer.hpp"

namespace tkfac::kfac {

Batch Dataset::batch(const std::vector<long>& indices) const {
  Batch b;
  b.x.resize(x.rows(), static_cast<Eigen::Index>(indices.size()));
  b.y.resize(indices.size());
  for (std::size_t j = 0; j < indices.size(); ++j) {
    b.x.col(static_cast<Eigen::Index>(j)) = x.col(indices[j]).cast<double>();
    b.y[j] = y[static_cast<std::size_t>(indices[j])];
  }
  return b;
}

Batch Dataset::slice(long begin, long count) const {
  Batch b;
  b.x = x.middleCols(begin, count).cast<double>();
  b.y.assign(y.begin() + begin, y.begin() + begin + count);
  return b;
}

void FashionMnistOptions::validate() const {
  if (pool != 1 && pool != 2 && pool != 4) {
    throw InputError(
        fmt::format("--pool: must be 1, 2 or 4 (28x28 -> 28x28, 14x14, 7x7), got {}", pool));
  }
  if (limit < 0) throw InputError(fmt::format("--limit: must be >= 0, got {}", limit));
}

namespace {

constexpr const char* k_package_hint =
    "install the Debian package with `apt-get install dataset-fashion-mnist`";
constexpr const char* k_reinstall_hint =
    "a damaged Fashion-MNIST file: reinstall it with `apt-get install --reinstall "
    "dataset-fashion-mnist`";

// A whole gzip file in memory. zlib reads a non-gzip file transparently, so the IDX checks
// below are what catch a wrong file.
std::vector<unsigned char> read_gz(const std::string& path) {
  gzFile f = gzopen(path.c_str(), "rb");
  if (!f) throw InputError(fmt::format("{}: cannot open", path));
  std::vector<unsigned char> out;
  unsigned char buf[1 << 16];
  for (;;) {
    const int n = gzread(f, buf, sizeof buf);
    if (n < 0) {
      int err = 0;
      const std::string msg = gzerror(f, &err);
      gzclose(f);
      throw InputError(fmt::format("{}: corrupt gzip data ({})", path, msg));
    }
    if (n == 0) break;
    out.insert(out.end(), buf, buf + n);
  }
  int err = 0;
  const char* msg = gzerror(f, &err);
  if (err != Z_OK && err != Z_STREAM_END) {
    const std::string text = msg;
    gzclose(f);
    throw InputError(fmt::format("{}: corrupt or truncated gzip data ({})", path, text));
  }
  const int rc = gzclose(f);
  if (rc != Z_OK) {
    throw InputError(fmt::format("{}: corrupt or truncated gzip data (gzclose: {})", path, rc));
  }
  return out;
}

std::uint32_t be32(const std::vector<unsigned char>& d, std::size_t at) {
  return (std::uint32_t{d[at]} << 24) | (std::uint32_t{d[at + 1]} << 16) |
         (std::uint32_t{d[at + 2]} << 8) | std::uint32_t{d[at + 3]};
}

}  // namespace

Eigen::VectorXf average_pool(const Eigen::VectorXf& image, int rows, int cols, int pool) {
  if (pool < 1 || rows % pool != 0 || cols % pool != 0 || image.size() != rows * cols) {
    throw InputError(fmt::format("average_pool: a {}x{} image ({} values) cannot be pooled by {}",
                                 rows, cols, image.size(), pool));
  }
  const int r2 = rows / pool, c2 = cols / pool;
  Eigen::VectorXf out = Eigen::VectorXf::Zero(r2 * c2);
  const float scale = 1.0f / static_cast<float>(pool * pool);
  for (int r = 0; r < rows; ++r)
    for (int c = 0; c < cols; ++c) out((r / pool) * c2 + c / pool) += image(r * cols + c);
  return out * scale;
}

Dataset read_idx_dataset(const std::string& images_path, const std::string& labels_path, int pool,
                         long limit) {
  const std::vector<unsigned char> img = read_gz(images_path);
  if (img.size() < 16 || be32(img, 0) != 0x00000803) {
    throw InputError(fmt::format(
        "{}: not an IDX image file (expected magic 0x00000803 for unsigned bytes in 3 dimensions)",
        images_path));
  }
  const std::uint32_t n = be32(img, 4), rows = be32(img, 8), cols = be32(img, 12);
  if (rows == 0 || cols == 0 || rows > 4096 || cols > 4096) {
    throw InputError(fmt::format("{}: implausible image size {}x{}", images_path, rows, cols));
  }
  const std::size_t expected = 16 + std::size_t{n} * rows * cols;
  if (img.size() != expected) {
    throw InputError(
        fmt::format("{}: {} bytes after decompression, the header ({} images of {}x{}) "
                    "implies {} (truncated or corrupt)",
                    images_path, img.size(), n, rows, cols, expected));
  }
  const std::vector<unsigned char> lab = read_gz(labels_path);
  if (lab.size() < 8 || be32(lab, 0) != 0x00000801) {
    throw InputError(fmt::format(
        "{}: not an IDX label file (expected magic 0x00000801 for unsigned bytes in 1 dimension)",
        labels_path));
  }
  const std::uint32_t nl = be32(lab, 4);
  if (lab.size() != 8 + std::size_t{nl}) {
    throw InputError(
        fmt::format("{}: {} bytes after decompression, the header ({} labels) implies "
                    "{} (truncated or corrupt)",
                    labels_path, lab.size(), nl, 8 + std::size_t{nl}));
  }
  if (nl != n) {
    throw InputError(
        fmt::format("{} has {} images but {} has {} labels", images_path, n, labels_path, nl));
  }
  if (pool < 1 || rows % static_cast<std::uint32_t>(pool) != 0 ||
      cols % static_cast<std::uint32_t>(pool) != 0) {
    throw InputError(fmt::format("--pool: {}x{} images cannot be pooled by {}", rows, cols, pool));
  }
  const long count = limit > 0 ? std::min<long>(limit, n) : static_cast<long>(n);
  const int r = static_cast<int>(rows), c = static_cast<int>(cols);
  const int features = (r / pool) * (c / pool);
  Dataset d;
  d.classes = 10;
  d.x.resize(features, count);
  d.y.resize(static_cast<std::size_t>(count));
  Eigen::VectorXf image(r * c);
  for (long i = 0; i < count; ++i) {
    const unsigned char* p = img.data() + 16 + static_cast<std::size_t>(i) * rows * cols;
    for (int k = 0; k < r * c; ++k) image(k) = static_cast<float>(p[k]) / 255.0f;
    d.x.col(i) = pool == 1 ? image : average_pool(image, r, c, pool);
    const int label = lab[8 + static_cast<std::size_t>(i)];
    if (label >= d.classes) {
      throw InputError(
          fmt::format("{}: label {} of example {} is outside 0..9", labels_path, label, i));
    }
    d.y[static_cast<std::size_t>(i)] = label;
  }
  return d;
}

Dataset load_fashion_mnist(Split split, const FashionMnistOptions& options) {
  options.validate();
  namespace fs = std::filesystem;
  const std::string prefix = split == Split::train ? "train" : "t10k";
  const std::string images =
      (fs::path(options.directory) / (prefix + "-images-idx3-ubyte.gz")).string();
  const std::string labels =
      (fs::path(options.directory) / (prefix + "-labels-idx1-ubyte.gz")).string();
  for (const auto& f : {images, labels}) {
    std::error_code ec;
    if (!fs::is_regular_file(f, ec)) {
      throw InputError(fmt::format("Fashion-MNIST file {} is missing: {}", f, k_package_hint));
    }
  }
  Dataset d;
  try {
    d = read_idx_dataset(images, labels, options.pool, options.limit);
  } catch (const InputError& e) {
    throw InputError(fmt::format("{} ({})", e.what(), k_reinstall_hint));
  }
  const int side = 28 / options.pool;
  d.name = fmt::format("fashion-mnist {} ({}x{})", prefix, side, side);
  return d;
}

void SyntheticOptions::validate() const {
  if (features < 1)
    throw InputError(fmt::format("synthetic: features must be >= 1, got {}", features));
  if (classes < 2)
    throw InputError(fmt::format("synthetic: classes must be >= 2, got {}", classes));
  if (train_size < 1 || test_size < 0) {
    throw InputError(
        fmt::format("synthetic: sizes must be positive, got {} / {}", train_size, test_size));
  }
  if (!(noise >= 0) || !(separation >= 0))
    throw InputError("synthetic: noise and separation must be >= 0");
}

std::pair<Dataset, Dataset> make_synthetic(const SyntheticOptions& o) {
  o.validate();
  std::mt19937_64 rng(o.seed);
  std::normal_distribution<double> normal;
  Eigen::MatrixXd means(o.features, o.classes);
  for (Eigen::Index i = 0; i < means.size(); ++i) means(i) = o.separation * normal(rng);
  const auto make = [&](long n, const char* part) {
    Dataset d;
    d.name = fmt::format("synthetic {} ({} features, {} classes)", part, o.features, o.classes);
    d.classes = o.classes;
    d.x.resize(o.features, n);
    d.y.resize(static_cast<std::size_t>(n));
    for (long j = 0; j < n; ++j) {
      const int c = static_cast<int>(rng() % static_cast<std::uint64_t>(o.classes));
      d.y[static_cast<std::size_t>(j)] = c;
      for (int i = 0; i < o.features; ++i) {
        d.x(i, j) = static_cast<float>(means(i, c) + o.noise * normal(rng));
      }
    }
    return d;
  };
  Dataset train = make(o.train_size, "train");
  Dataset test = make(o.test_size, "test");
  return {std::move(train), std::move(test)};
}

void DataOptions::validate() const {
  if (dataset != "fashion-mnist" && dataset != "synthetic") {
    throw InputError(fmt::format(
        "--dataset: unknown data set '{}' (expected fashion-mnist or synthetic)", dataset));
  }
}

Data load_data(const DataOptions& options, bool with_test) {
  options.validate();
  Data d;
  if (options.dataset == "fashion-mnist") {
    FashionMnistOptions fo;
    fo.directory = options.directory;
    fo.pool = options.pool;
    fo.limit = options.train_limit;
    fo.validate();
    d.train = load_fashion_mnist(Split::train, fo);
    if (with_test) {
      fo.limit = 0;
      d.test = load_fashion_mnist(Split::test, fo);
    }
    d.description = fmt::format("fashion-mnist, pool {}", options.pool);
  } else {
    SyntheticOptions so;
    so.seed = options.seed;
    if (options.train_limit > 0) so.train_size = options.train_limit;
    auto [train, test] = make_synthetic(so);
    d.train = std::move(train);
    if (with_test) d.test = std::move(test);
    d.description = fmt::format("synthetic, seed {}", options.seed);
  }
  return d;
}

Batch first_batch(const Dataset& train, int batch_size, std::uint64_t seed) {
  std::vector<long> order = epoch_permutation(train.size(), seed, 0);
  order.resize(static_cast<std::size_t>(batch_size));
  return train.batch(order);
}

}  // namespace tkfac::kfac
