// Internal: the interface behind vdb::embed::Embedder (see embedder.h).
#pragma once

#include <span>
#include <string>
#include <vector>

#include "engine/embed/embedder.h"

namespace vdb::embed {

class EmbedderBackend {
 public:
  virtual ~EmbedderBackend() = default;
  virtual size_t dim() const = 0;
  virtual Result<std::vector<std::vector<float>>> Embed(std::span<const std::string> texts) const = 0;
  virtual Result<std::vector<std::vector<int32_t>>> Tokenize(
      std::span<const std::string> texts) const = 0;
  virtual ModelIdentity identity() const = 0;
  virtual bool is_lexical() const = 0;
  virtual std::string Describe() const = 0;
  virtual size_t max_seq_length() const = 0;
};

}  // namespace vdb::embed
