// Public API of vdb's sentence-embedding module: text in, vectors out, in
// C++ with no Python. Two kinds of model:
//  - a BERT-family sentence-transformers model directory (for example
//    all-MiniLM-L6-v2): vectors that capture meaning;
//  - the built-in lexical embedder ("hash" / "hash:DIM"): hashed word and
//    character n-grams. It needs no files, but it matches words, not meaning.
//
// Example:
//   auto e = vdb::embed::Embedder::Load("all-MiniLM-L6-v2");
//   if (!e.ok()) { /* e.status().message() says where it looked */ }
//   auto vecs = (*e)->Embed(texts);
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "vdb/status.h"

namespace vdb::embed {

// Which model produced a vector. Databases record it and refuse text search
// with a different one. Deterministic: the same model files give the same
// identity on every machine.
struct ModelIdentity {
  std::string name;  // directory base name, Hugging Face name, or "hash"
  uint32_t dim = 0;
  // 32 lowercase hex digits: XXH3-128 of the files that determine the vectors
  // (config, pooling, tokenizer, weights), or of the lexical algorithm and dim.
  std::string hash;

  // Same vectors: same dim and hash (the name is only for display).
  bool SameModel(const ModelIdentity& o) const { return dim == o.dim && hash == o.hash; }
  // "name (dim 384, hash 0123...)".
  std::string ToString() const;
};

struct EmbedderOptions {
  // Threads for the forward pass, the caller included; 0 = all cores.
  int num_threads = 0;
  // Upper bound on the tokens of texts run through the network together.
  size_t max_batch_tokens = 8192;
};

// Internal interface implemented by the BERT and lexical back ends.
class EmbedderBackend;

// Thread-safe after Load: Embed and Tokenize may be called concurrently.
class Embedder {
 public:
  // spec: a model directory; a Hugging Face name looked up in the local cache
  // ("sentence-transformers/all-MiniLM-L6-v2" or "all-MiniLM-L6-v2"); "hash"
  // or "hash:DIM" for the lexical embedder; empty = $VDB_MODEL. Errors say
  // what is wrong with the files, or where the model was looked for and how
  // to get one.
  static Result<std::unique_ptr<Embedder>> Load(std::string_view spec,
                                                const EmbedderOptions& options = {});
  ~Embedder();

  size_t dim() const;
  // One vector of dim() floats per text, in order. Texts longer than the
  // model's max_seq_length are truncated (as sentence-transformers does).
  Result<std::vector<std::vector<float>>> Embed(std::span<const std::string> texts) const;
  Result<std::vector<float>> EmbedOne(std::string_view text) const;
  // Token ids ([CLS] ... [SEP], truncated) per text. NotSupported for the
  // lexical embedder, which has no vocabulary.
  Result<std::vector<std::vector<int32_t>>> Tokenize(std::span<const std::string> texts) const;
  ModelIdentity identity() const;
  // True for "hash": vectors match words, not meaning. Tools must say so.
  bool is_lexical() const;
  // One line for humans, e.g. "all-MiniLM-L6-v2: BERT 6 layers, hidden 384,
  // mean pooling, normalized, 384 dimensions".
  std::string Describe() const;
  // Ids per text including [CLS]/[SEP] (0 for the lexical embedder).
  size_t max_seq_length() const;

 private:
  explicit Embedder(std::unique_ptr<EmbedderBackend> backend);
  std::unique_ptr<EmbedderBackend> backend_;
};

// The lexical embedder's note, printed by tools that use it.
inline constexpr char kLexicalNote[] =
    "model 'hash' is the built-in lexical embedder: it matches words, not meaning";

}  // namespace vdb::embed
