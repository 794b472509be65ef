// The sentence-transformers model directory layout and how a model is found:
// config.json (BERT sizes), modules.json (Transformer -> Pooling ->
// Normalize), 1_Pooling/config.json, sentence_bert_config.json
// (max_seq_length), tokenizer files and model.safetensors.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "vdb/status.h"

namespace vdb::embed {

// BERT encoder hyperparameters from config.json.
struct BertConfig {
  int64_t vocab_size = 0;
  int64_t hidden_size = 0;
  int64_t num_hidden_layers = 0;
  int64_t num_attention_heads = 0;
  int64_t intermediate_size = 0;
  int64_t max_position_embeddings = 512;
  int64_t type_vocab_size = 2;
  double layer_norm_eps = 1e-12;
  // "gelu" (exact erf), "gelu_new" / "gelu_pytorch_tanh" (tanh form), "relu".
  std::string hidden_act = "gelu";
};

// Parses and range-checks config.json (`what` names the file in errors).
Result<BertConfig> ParseBertConfig(const std::string& json_text, std::string_view what);

// sentence-transformers pooling modes, in the order their outputs are
// concatenated.
enum class PoolingMode { kCls, kMax, kMean, kMeanSqrtLen };

struct PoolingConfig {
  std::vector<PoolingMode> modes;  // at least one
};

// Everything read from a model directory except the weights.
struct ModelDirectory {
  std::string path;          // the directory
  std::string name;          // display name (directory or Hugging Face name)
  BertConfig bert;
  PoolingConfig pooling;
  bool normalize = false;    // modules.json lists Normalize
  size_t max_seq_length = 0; // ids per text incl. [CLS]/[SEP]
  std::string weights_path;  // model.safetensors
};

// Reads and validates the directory's JSON files. Does not open the weights
// or the tokenizer.
Result<ModelDirectory> ReadModelDirectory(const std::string& dir);

// Where a model spec resolved to.
struct ModelLocation {
  std::string dir;
  std::string name;
};

// Resolves a spec: an existing directory, or a Hugging Face model name
// ("org/name", or "name" meaning "sentence-transformers/name") looked up in
// the cache ($HF_HUB_CACHE, $HF_HOME/hub, ~/.cache/huggingface/hub:
// models--org--name/snapshots/*/). An empty spec means $VDB_MODEL. The
// NotFound error lists every place looked at and how to get a model.
Result<ModelLocation> FindModel(std::string_view spec);

}  // namespace vdb::embed
