#include "engine/embed/embedder.h"

#include <xxh3.h>

#include <algorithm>
#include <cstdio>
#include <numeric>
#include <thread>

#include "engine/embed/bert_model.h"
#include "engine/embed/embedder_backend.h"
#include "engine/embed/file_util.h"
#include "engine/embed/lexical_embedder.h"
#include "engine/embed/model_config.h"
#include "engine/embed/safetensors.h"
#include "engine/embed/thread_pool.h"
#include "engine/embed/tokenizer.h"

// OpenBLAS's thread control, when the BLAS in use is OpenBLAS.
extern "C" void openblas_set_num_threads(int) __attribute__((weak));

namespace vdb::embed {
namespace {

std::string Hex128(XXH128_hash_t h) {
  char hex[33];
  snprintf(hex, sizeof(hex), "%016llx%016llx", static_cast<unsigned long long>(h.high64),
           static_cast<unsigned long long>(h.low64));
  return hex;
}

// Hashes (file name, size, bytes) of each file that exists, in order.
Result<std::string> HashModelFiles(const ModelDirectory& m, const SafetensorsFile& weights) {
  XXH3_state_t st;
  XXH3_128bits_reset(&st);
  auto feed = [&st](std::string_view name, const void* data, uint64_t size) {
    XXH3_128bits_update(&st, name.data(), name.size());
    uint8_t len[8];
    for (int i = 0; i < 8; ++i) len[i] = static_cast<uint8_t>(size >> (8 * i));
    XXH3_128bits_update(&st, len, 8);
    if (size > 0) XXH3_128bits_update(&st, data, size);
  };
  for (const char* name : {"config.json", "modules.json", "1_Pooling/config.json",
                           "sentence_bert_config.json", "vocab.txt", "tokenizer.json",
                           "tokenizer_config.json", "special_tokens_map.json"}) {
    std::string path = JoinPath(m.path, name);
    if (!PathIsFile(path)) continue;
    VDB_ASSIGN_OR_RETURN(std::string bytes, ReadFileToString(path));
    feed(name, bytes.data(), bytes.size());
  }
  // The whole safetensors file: header and data.
  for (const TensorInfo& t : weights.header().tensors) {
    VDB_ASSIGN_OR_RETURN(std::span<const uint8_t> b, weights.Bytes(t));
    feed(t.name, b.data(), b.size());
    std::string meta = std::string(DTypeName(t.dtype));
    for (int64_t d : t.shape) meta += "," + std::to_string(d);
    feed("shape", meta.data(), meta.size());
  }
  return Hex128(XXH3_128bits_digest(&st));
}

const char* PoolingName(PoolingMode m) {
  switch (m) {
    case PoolingMode::kCls: return "cls";
    case PoolingMode::kMax: return "max";
    case PoolingMode::kMean: return "mean";
    case PoolingMode::kMeanSqrtLen: return "mean-sqrt-len";
  }
  return "?";
}

class BertEmbedder : public EmbedderBackend {
 public:
  static Result<std::unique_ptr<EmbedderBackend>> Load(const ModelLocation& loc,
                                                       const EmbedderOptions& options) {
    std::unique_ptr<BertEmbedder> e(new BertEmbedder());
    VDB_ASSIGN_OR_RETURN(e->dir_, ReadModelDirectory(loc.dir));
    e->dir_.name = loc.name;
    VDB_ASSIGN_OR_RETURN(e->tokenizer_, Tokenizer::FromDirectory(loc.dir, e->dir_.max_seq_length));
    if (e->tokenizer_->vocab_size() > static_cast<size_t>(e->dir_.bert.vocab_size)) {
      return Status::InvalidArgument(
          "vocab mismatch: " + loc.dir + ": the tokenizer has " +
          std::to_string(e->tokenizer_->vocab_size()) + " tokens but config.json vocab_size is " +
          std::to_string(e->dir_.bert.vocab_size));
    }
    VDB_ASSIGN_OR_RETURN(std::unique_ptr<SafetensorsFile> weights,
                         SafetensorsFile::Open(e->dir_.weights_path));
    VDB_ASSIGN_OR_RETURN(e->model_, BertModel::Load(e->dir_, *weights));
    VDB_ASSIGN_OR_RETURN(e->hash_, HashModelFiles(e->dir_, *weights));
    int threads = options.num_threads;
    if (threads <= 0) threads = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
    // The pool parallelizes the forward pass; OpenBLAS must not add its own
    // threads on top (each product is already split across the pool).
    if (openblas_set_num_threads != nullptr) openblas_set_num_threads(1);
    e->pool_ = std::make_unique<ThreadPool>(threads);
    e->max_batch_tokens_ = std::max<size_t>(options.max_batch_tokens, e->dir_.max_seq_length);
    return std::unique_ptr<EmbedderBackend>(std::move(e));
  }

  size_t dim() const override { return model_->output_dim(); }

  Result<std::vector<std::vector<int32_t>>> Tokenize(
      std::span<const std::string> texts) const override {
    std::vector<std::vector<int32_t>> ids(texts.size());
    pool_->ParallelFor(std::min<size_t>(texts.size(), pool_->num_threads()),
                       [&](size_t part, size_t parts) {
                         auto [b, e] = PartRange(texts.size(), part, parts);
                         for (size_t i = b; i < e; ++i) ids[i] = tokenizer_->Encode(texts[i]);
                       });
    return ids;
  }

  Result<std::vector<std::vector<float>>> Embed(std::span<const std::string> texts) const override {
    VDB_ASSIGN_OR_RETURN(std::vector<std::vector<int32_t>> ids, Tokenize(texts));
    // Longest first, then batches of at most max_batch_tokens_ tokens.
    std::vector<size_t> order(texts.size());
    std::iota(order.begin(), order.end(), 0);
    std::stable_sort(order.begin(), order.end(),
                     [&](size_t a, size_t b) { return ids[a].size() > ids[b].size(); });
    const size_t D = dim();
    std::vector<std::vector<float>> out(texts.size());
    std::vector<float> pooled;
    std::vector<const std::vector<int32_t>*> batch;
    size_t i = 0;
    while (i < order.size()) {
      batch.clear();
      size_t tokens = 0;
      while (i < order.size() &&
             (batch.empty() || tokens + ids[order[i]].size() <= max_batch_tokens_)) {
        batch.push_back(&ids[order[i]]);
        tokens += ids[order[i]].size();
        ++i;
      }
      pooled.resize(batch.size() * D);
      model_->Forward(batch, dir_.normalize, pool_.get(), pooled.data());
      for (size_t b = 0; b < batch.size(); ++b) {
        size_t idx = order[i - batch.size() + b];
        out[idx].assign(pooled.begin() + b * D, pooled.begin() + (b + 1) * D);
      }
    }
    return out;
  }

  ModelIdentity identity() const override {
    return ModelIdentity{dir_.name, static_cast<uint32_t>(dim()), hash_};
  }
  bool is_lexical() const override { return false; }
  std::string Describe() const override {
    const BertConfig& c = dir_.bert;
    std::string pooling;
    for (PoolingMode m : dir_.pooling.modes) {
      if (!pooling.empty()) pooling += "+";
      pooling += PoolingName(m);
    }
    return dir_.name + ": BERT " + std::to_string(c.num_hidden_layers) + " layers, hidden " +
           std::to_string(c.hidden_size) + ", " + std::to_string(c.num_attention_heads) +
           " heads, " + pooling + " pooling" + (dir_.normalize ? ", normalized" : "") + ", " +
           std::to_string(dim()) + " dimensions, max " + std::to_string(dir_.max_seq_length) +
           " tokens";
  }
  size_t max_seq_length() const override { return dir_.max_seq_length; }

 private:
  BertEmbedder() = default;
  ModelDirectory dir_;
  std::unique_ptr<Tokenizer> tokenizer_;
  std::unique_ptr<BertModel> model_;
  std::unique_ptr<ThreadPool> pool_;
  std::string hash_;
  size_t max_batch_tokens_ = 8192;
};

}  // namespace

std::string ModelIdentity::ToString() const {
  return name + " (dim " + std::to_string(dim) + ", hash " + hash + ")";
}

Embedder::Embedder(std::unique_ptr<EmbedderBackend> backend) : backend_(std::move(backend)) {}
Embedder::~Embedder() = default;

Result<std::unique_ptr<Embedder>> Embedder::Load(std::string_view spec,
                                                 const EmbedderOptions& options) {
  std::string s(spec);
  if (s.empty()) {
    const char* env = std::getenv("VDB_MODEL");
    if (env != nullptr) s = env;
  }
  std::unique_ptr<EmbedderBackend> backend;
  if (IsLexicalSpec(s)) {
    VDB_ASSIGN_OR_RETURN(backend, CreateLexicalEmbedder(s));
  } else {
    VDB_ASSIGN_OR_RETURN(ModelLocation loc, FindModel(s));
    VDB_ASSIGN_OR_RETURN(backend, BertEmbedder::Load(loc, options));
  }
  return std::unique_ptr<Embedder>(new Embedder(std::move(backend)));
}

size_t Embedder::dim() const { return backend_->dim(); }

Result<std::vector<std::vector<float>>> Embedder::Embed(std::span<const std::string> texts) const {
  return backend_->Embed(texts);
}

Result<std::vector<float>> Embedder::EmbedOne(std::string_view text) const {
  std::string t(text);
  VDB_ASSIGN_OR_RETURN(std::vector<std::vector<float>> v, backend_->Embed({&t, 1}));
  return std::move(v[0]);
}

Result<std::vector<std::vector<int32_t>>> Embedder::Tokenize(
    std::span<const std::string> texts) const {
  return backend_->Tokenize(texts);
}

ModelIdentity Embedder::identity() const { return backend_->identity(); }
bool Embedder::is_lexical() const { return backend_->is_lexical(); }
std::string Embedder::Describe() const { return backend_->Describe(); }
size_t Embedder::max_seq_length() const { return backend_->max_seq_length(); }

}  // namespace vdb::embed
