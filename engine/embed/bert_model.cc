#include "engine/embed/bert_model.h"

#include <cblas.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <string>

namespace vdb::embed {
namespace {

std::string ShapeString(std::span<const int64_t> s) {
  std::string out = "[";
  for (size_t i = 0; i < s.size(); ++i) {
    if (i) out += ", ";
    out += std::to_string(s[i]);
  }
  return out + "]";
}

class WeightReader {
 public:
  WeightReader(const SafetensorsFile& f, const std::string& what) : f_(f), what_(what) {}

  // Reads `name` (or "bert." + name; for LayerNorm also gamma/beta) with the
  // expected shape into out.
  Status Read(const std::string& name, std::vector<int64_t> shape, std::vector<float>* out) {
    std::vector<std::string> names{name, "bert." + name};
    if (name.ends_with("LayerNorm.weight") || name.ends_with("LayerNorm.bias")) {
      std::string alt = name.substr(0, name.rfind('.')) +
                        (name.ends_with(".weight") ? ".gamma" : ".beta");
      names.push_back(alt);
      names.push_back("bert." + alt);
    }
    const TensorInfo* t = nullptr;
    for (const std::string& n : names) {
      if ((t = f_.header().Find(n)) != nullptr) break;
    }
    if (t == nullptr) {
      return Status::InvalidArgument(f_.path() + ": missing tensor \"" + name + "\" (" + what_ + ")");
    }
    if (!DTypeIsFloat(t->dtype)) {
      return Status::InvalidArgument(f_.path() + ": tensor \"" + t->name + "\" has dtype " +
                                     std::string(DTypeName(t->dtype)) +
                                     ", expected F32, F16 or BF16");
    }
    if (t->shape != shape) {
      return Status::InvalidArgument(f_.path() + ": tensor \"" + t->name + "\" has shape " +
                                     ShapeString(t->shape) + " but config.json needs " +
                                     ShapeString(shape));
    }
    VDB_ASSIGN_OR_RETURN(*out, f_.ReadFloats(*t));
    for (float v : *out) {
      if (!std::isfinite(v)) {
        return Status::Corruption(f_.path() + ": tensor \"" + t->name +
                                  "\" holds a NaN or infinite value");
      }
    }
    return Status::Ok();
  }

 private:
  const SafetensorsFile& f_;
  std::string what_;
};

}  // namespace

Result<std::unique_ptr<BertModel>> BertModel::Load(const ModelDirectory& dir,
                                                   const SafetensorsFile& weights) {
  VDB_RETURN_IF_ERROR(weights.CheckComplete());
  std::unique_ptr<BertModel> m(new BertModel());
  m->config_ = dir.bert;
  m->pooling_ = dir.pooling;
  const BertConfig& c = m->config_;
  if (c.hidden_act == "gelu") {
    m->activation_ = kernels::Activation::kGeluErf;
  } else if (c.hidden_act == "relu") {
    m->activation_ = kernels::Activation::kRelu;
  } else {
    m->activation_ = kernels::Activation::kGeluTanh;
  }
  const int64_t H = c.hidden_size, F = c.intermediate_size;
  WeightReader r(weights, "config.json: hidden " + std::to_string(H) + ", " +
                              std::to_string(c.num_hidden_layers) + " layers");
  VDB_RETURN_IF_ERROR(r.Read("embeddings.word_embeddings.weight", {c.vocab_size, H}, &m->word_emb_));
  VDB_RETURN_IF_ERROR(r.Read("embeddings.position_embeddings.weight",
                             {c.max_position_embeddings, H}, &m->pos_emb_));
  VDB_RETURN_IF_ERROR(r.Read("embeddings.token_type_embeddings.weight",
                             {c.type_vocab_size, H}, &m->type_emb_));
  VDB_RETURN_IF_ERROR(r.Read("embeddings.LayerNorm.weight", {H}, &m->emb_ln_g_));
  VDB_RETURN_IF_ERROR(r.Read("embeddings.LayerNorm.bias", {H}, &m->emb_ln_b_));
  m->layers_.resize(static_cast<size_t>(c.num_hidden_layers));
  for (int64_t i = 0; i < c.num_hidden_layers; ++i) {
    Layer& L = m->layers_[i];
    const std::string p = "encoder.layer." + std::to_string(i) + ".";
    std::vector<float> w, b;
    L.qkv_w.reserve(3 * H * H);
    L.qkv_b.reserve(3 * H);
    for (const char* part : {"query", "key", "value"}) {
      VDB_RETURN_IF_ERROR(r.Read(p + "attention.self." + part + ".weight", {H, H}, &w));
      VDB_RETURN_IF_ERROR(r.Read(p + "attention.self." + part + ".bias", {H}, &b));
      L.qkv_w.insert(L.qkv_w.end(), w.begin(), w.end());
      L.qkv_b.insert(L.qkv_b.end(), b.begin(), b.end());
    }
    VDB_RETURN_IF_ERROR(r.Read(p + "attention.output.dense.weight", {H, H}, &L.attn_out_w));
    VDB_RETURN_IF_ERROR(r.Read(p + "attention.output.dense.bias", {H}, &L.attn_out_b));
    VDB_RETURN_IF_ERROR(r.Read(p + "attention.output.LayerNorm.weight", {H}, &L.attn_ln_g));
    VDB_RETURN_IF_ERROR(r.Read(p + "attention.output.LayerNorm.bias", {H}, &L.attn_ln_b));
    VDB_RETURN_IF_ERROR(r.Read(p + "intermediate.dense.weight", {F, H}, &L.inter_w));
    VDB_RETURN_IF_ERROR(r.Read(p + "intermediate.dense.bias", {F}, &L.inter_b));
    VDB_RETURN_IF_ERROR(r.Read(p + "output.dense.weight", {H, F}, &L.out_w));
    VDB_RETURN_IF_ERROR(r.Read(p + "output.dense.bias", {H}, &L.out_b));
    VDB_RETURN_IF_ERROR(r.Read(p + "output.LayerNorm.weight", {H}, &L.out_ln_g));
    VDB_RETURN_IF_ERROR(r.Read(p + "output.LayerNorm.bias", {H}, &L.out_ln_b));
    kernels::PackWeights(L.qkv_w.data(), 3 * H, H, &L.qkv_p);
    kernels::PackWeights(L.attn_out_w.data(), H, H, &L.attn_out_p);
    kernels::PackWeights(L.inter_w.data(), F, H, &L.inter_p);
    kernels::PackWeights(L.out_w.data(), H, F, &L.out_p);
  }
  std::string extra = "encoder.layer." + std::to_string(c.num_hidden_layers) + ".";
  for (const TensorInfo& t : weights.header().tensors) {
    if (t.name.starts_with(extra) || t.name.starts_with("bert." + extra)) {
      return Status::InvalidArgument(weights.path() + ": tensor \"" + t.name +
                                     "\" belongs to a layer config.json does not have (" +
                                     std::to_string(c.num_hidden_layers) + " layers)");
    }
  }
  return m;
}

void ParallelLinear(ThreadPool* pool, const float* a, size_t m, size_t k, const float* w,
                    const float* packed, size_t n, float* c,
                    const std::function<void(float*, size_t, size_t, size_t, size_t)>& epilogue) {
  const size_t threads = static_cast<size_t>(pool->num_threads());
  if (packed != nullptr && m <= kPackedMaxRows) {
    const size_t panels = kernels::PackedPanels(n);
    pool->ParallelFor(std::min(threads, panels), [&](size_t part, size_t num_parts) {
      auto [p0, p1] = PartRange(panels, part, num_parts);
      if (p0 == p1) return;
      kernels::PackedMatMul(a, m, k, packed, n, k, p0, p1, c, n);
      const size_t c0 = p0 * kernels::kPanelWidth;
      const size_t c1 = std::min(n, p1 * kernels::kPanelWidth);
      if (epilogue) epilogue(c + c0, m, 0, c0, c1);
    });
    return;
  }
  // Rows when there are plenty (each thread streams all weights once), columns
  // otherwise (each thread reads only its share of the weights).
  const bool by_rows = m >= 128 * threads;
  const size_t parts = std::min(threads, by_rows ? m : (n + 15) / 16);
  pool->ParallelFor(parts, [&](size_t part, size_t num_parts) {
    if (by_rows) {
      auto [r0, r1] = PartRange(m, part, num_parts);
      if (r0 == r1) return;
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, static_cast<int>(r1 - r0),
                  static_cast<int>(n), static_cast<int>(k), 1.0f, a + r0 * k,
                  static_cast<int>(k), w, static_cast<int>(k), 0.0f, c + r0 * n,
                  static_cast<int>(n));
      if (epilogue) epilogue(c + r0 * n, r1 - r0, r0, 0, n);
    } else {
      // Column blocks are multiples of 16 wide.
      auto [b0, b1] = PartRange((n + 15) / 16, part, num_parts);
      size_t c0 = b0 * 16, c1 = std::min(n, b1 * 16);
      if (c0 >= c1) return;
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, static_cast<int>(m),
                  static_cast<int>(c1 - c0), static_cast<int>(k), 1.0f, a,
                  static_cast<int>(k), w + c0 * k, static_cast<int>(k), 0.0f, c + c0,
                  static_cast<int>(n));
      if (epilogue) epilogue(c + c0, m, 0, c0, c1);
    }
  });
}

void BertModel::Forward(std::span<const std::vector<int32_t>* const> seqs, bool normalize,
                        ThreadPool* pool, float* out) const {
  const size_t H = config_.hidden_size, F = config_.intermediate_size;
  const size_t heads = config_.num_attention_heads, d = H / heads;
  const float eps = static_cast<float>(config_.layer_norm_eps);
  const size_t S = seqs.size();
  std::vector<size_t> offset(S + 1, 0);
  size_t max_len = 0;
  for (size_t s = 0; s < S; ++s) {
    offset[s + 1] = offset[s] + seqs[s]->size();
    max_len = std::max(max_len, seqs[s]->size());
  }
  const size_t T = offset[S];
  const size_t threads = static_cast<size_t>(pool->num_threads());
  std::vector<float> x(T * H), x1(T * H), tmp(T * H), ctx(T * H), qkv(T * 3 * H), inter(T * F);
  std::vector<float> scores(threads * max_len * max_len);

  // Embeddings: word + position + token type 0, then LayerNorm.
  pool->ParallelFor(threads, [&](size_t part, size_t parts) {
    auto [s0, s1] = PartRange(S, part, parts);
    for (size_t s = s0; s < s1; ++s) {
      const std::vector<int32_t>& ids = *seqs[s];
      for (size_t p = 0; p < ids.size(); ++p) {
        float* row = &x[(offset[s] + p) * H];
        const float* we = &word_emb_[static_cast<size_t>(ids[p]) * H];
        const float* pe = &pos_emb_[p * H];
        for (size_t j = 0; j < H; ++j) row[j] = we[j] + pe[j] + type_emb_[j];
      }
      kernels::AddResidualLayerNorm(&x[offset[s] * H], nullptr, nullptr, emb_ln_g_.data(),
                                    emb_ln_b_.data(), ids.size(), H, eps);
    }
  });

  const float scale = 1.0f / std::sqrt(static_cast<float>(d));
  const size_t ld = 3 * H;
  auto row_parts = [&](const std::function<void(size_t, size_t)>& fn) {
    pool->ParallelFor(std::min(threads, T), [&](size_t part, size_t parts) {
      auto [r0, r1] = PartRange(T, part, parts);
      fn(r0, r1);
    });
  };
  for (const Layer& L : layers_) {
    // Q, K, V for all tokens in one product.
    ParallelLinear(pool, x.data(), T, H, L.qkv_w.data(), L.qkv_p.data(), 3 * H, qkv.data(),
                   [&](float* c, size_t rows, size_t, size_t c0, size_t c1) {
                     kernels::AddBias(c, rows, c1 - c0, 3 * H, L.qkv_b.data() + c0);
                   });
    // Attention per (sequence, head).
    pool->ParallelFor(threads, [&](size_t part, size_t parts) {
      auto [t0, t1] = PartRange(S * heads, part, parts);
      float* sc = &scores[part * max_len * max_len];
      for (size_t task = t0; task < t1; ++task) {
        size_t s = task / heads, h = task % heads;
        int len = static_cast<int>(offset[s + 1] - offset[s]);
        const float* q = &qkv[offset[s] * ld + h * d];
        const float* k = q + H;
        const float* v = q + 2 * H;
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, len, len, static_cast<int>(d), 1.0f,
                    q, static_cast<int>(ld), k, static_cast<int>(ld), 0.0f, sc, len);
        for (int i = 0; i < len; ++i) kernels::ScaledSoftmax(sc + i * len, len, scale);
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, len, static_cast<int>(d), len,
                    1.0f, sc, len, v, static_cast<int>(ld), 0.0f, &ctx[offset[s] * H + h * d],
                    static_cast<int>(H));
      }
    });
    // Attention output projection, residual, LayerNorm.
    ParallelLinear(pool, ctx.data(), T, H, L.attn_out_w.data(), L.attn_out_p.data(), H,
                   tmp.data(), nullptr);
    row_parts([&](size_t r0, size_t r1) {
      kernels::AddResidualLayerNorm(&tmp[r0 * H], &x[r0 * H], L.attn_out_b.data(),
                                    L.attn_ln_g.data(), L.attn_ln_b.data(), r1 - r0, H, eps);
    });
    std::swap(tmp, x1);
    // Feed-forward: bias and activation fused into the product's blocks.
    ParallelLinear(pool, x1.data(), T, H, L.inter_w.data(), L.inter_p.data(), F, inter.data(),
                   [&](float* c, size_t rows, size_t, size_t c0, size_t c1) {
                     kernels::AddBiasActivate(c, rows, c1 - c0, F, L.inter_b.data() + c0,
                                              activation_);
                   });
    ParallelLinear(pool, inter.data(), T, F, L.out_w.data(), L.out_p.data(), H, x.data(),
                   nullptr);
    row_parts([&](size_t r0, size_t r1) {
      kernels::AddResidualLayerNorm(&x[r0 * H], &x1[r0 * H], L.out_b.data(), L.out_ln_g.data(),
                                    L.out_ln_b.data(), r1 - r0, H, eps);
    });
  }

  // Pooling (modes concatenated in sentence-transformers order), normalize.
  const size_t D = output_dim();
  for (size_t s = 0; s < S; ++s) {
    const size_t len = offset[s + 1] - offset[s];
    const float* rows = &x[offset[s] * H];
    float* o = out + s * D;
    for (size_t mi = 0; mi < pooling_.modes.size(); ++mi) {
      float* dst = o + mi * H;
      switch (pooling_.modes[mi]) {
        case PoolingMode::kCls:
          std::memcpy(dst, rows, H * sizeof(float));
          break;
        case PoolingMode::kMax:
          std::memcpy(dst, rows, H * sizeof(float));
          for (size_t t = 1; t < len; ++t) {
            for (size_t j = 0; j < H; ++j) dst[j] = std::max(dst[j], rows[t * H + j]);
          }
          break;
        case PoolingMode::kMean:
        case PoolingMode::kMeanSqrtLen: {
          std::vector<double> acc(H, 0.0);
          for (size_t t = 0; t < len; ++t) {
            for (size_t j = 0; j < H; ++j) acc[j] += rows[t * H + j];
          }
          double div = pooling_.modes[mi] == PoolingMode::kMean ? static_cast<double>(len)
                                                                : std::sqrt(static_cast<double>(len));
          for (size_t j = 0; j < H; ++j) dst[j] = static_cast<float>(acc[j] / div);
          break;
        }
      }
    }
    if (normalize) {
      double norm = 0;
      for (size_t j = 0; j < D; ++j) norm += static_cast<double>(o[j]) * o[j];
      norm = std::sqrt(norm);
      // Like torch.nn.functional.normalize: divide by max(norm, 1e-12).
      float inv = static_cast<float>(1.0 / std::max(norm, 1e-12));
      for (size_t j = 0; j < D; ++j) o[j] *= inv;
    }
  }
}

}  // namespace vdb::embed
