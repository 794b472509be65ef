// The BERT encoder forward pass with sentence-transformers pooling.
//
// Sequences of one call are packed back to back (no padding): every matrix
// product runs over all tokens of the call at once through cblas_sgemm, and
// attention is computed per sequence over that sequence's tokens only, which
// is exactly what the attention mask of a padded batch computes.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "engine/embed/kernels.h"
#include "engine/embed/model_config.h"
#include "engine/embed/safetensors.h"
#include "engine/embed/thread_pool.h"
#include "vdb/status.h"

namespace vdb::embed {

// Immutable after Load; Forward is thread-safe (each call has its own
// scratch memory; the pool serializes parallel loops).
class BertModel {
 public:
  // Reads and checks every tensor against dir.bert (names with or without a
  // "bert." prefix; LayerNorm weight/bias or gamma/beta). Refuses a
  // truncated file, a missing tensor or a wrong shape, naming the tensor.
  static Result<std::unique_ptr<BertModel>> Load(const ModelDirectory& dir,
                                                 const SafetensorsFile& weights);

  const BertConfig& config() const { return config_; }
  // Width of a pooled vector: hidden_size times the number of pooling modes.
  size_t output_dim() const { return config_.hidden_size * pooling_.modes.size(); }

  // Embeds `seqs` (token ids, each 1..max_position_embeddings long, ids <
  // vocab_size, checked by the caller) into out (seqs.size() x output_dim(),
  // row-major), pooled and L2-normalized if `normalize`.
  void Forward(std::span<const std::vector<int32_t>* const> seqs, bool normalize,
               ThreadPool* pool, float* out) const;

 private:
  struct Layer {
    std::vector<float> qkv_w, qkv_b;  // [3H, H], [3H]: query, key, value rows
    std::vector<float> attn_out_w, attn_out_b, attn_ln_g, attn_ln_b;
    std::vector<float> inter_w, inter_b;  // [F, H], [F]
    std::vector<float> out_w, out_b, out_ln_g, out_ln_b;  // [H, F], [H]
    // The four weight matrices repacked for kernels::PackedMatMul, used when
    // a call has few tokens (where sgemm would spend its time packing).
    std::vector<float> qkv_p, attn_out_p, inter_p, out_p;
  };
  BertModel() = default;

  BertConfig config_;
  PoolingConfig pooling_;
  kernels::Activation activation_ = kernels::Activation::kGeluErf;
  std::vector<float> word_emb_, pos_emb_, type_emb_, emb_ln_g_, emb_ln_b_;
  std::vector<Layer> layers_;
};

// Calls with at most this many tokens use the packed-weight kernel instead
// of sgemm (measured crossover on AVX2 cores: 64-128 rows).
inline constexpr size_t kPackedMaxRows = 96;

// C[m x n] = A[m x k] * W[n x k]^T (+ epilogue), split over the pool by
// columns (small m) or rows (large m). Small m with `packed` (W repacked by
// kernels::PackWeights) uses kernels::PackedMatMul, otherwise cblas_sgemm.
// epilogue(c, rows, r0, c0, c1) runs on each finished block: rows starting
// at row r0, columns [c0, c1).
void ParallelLinear(ThreadPool* pool, const float* a, size_t m, size_t k, const float* w,
                    const float* packed, size_t n, float* c,
                    const std::function<void(float*, size_t, size_t, size_t, size_t)>& epilogue);

}  // namespace vdb::embed
