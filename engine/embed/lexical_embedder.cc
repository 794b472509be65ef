#include "engine/embed/lexical_embedder.h"

#include <xxh3.h>

#include <charconv>
#include <cmath>
#include <cstring>
#include <string>
#include <vector>

#include "engine/embed/unicode.h"

namespace vdb::embed {
namespace {

// Version of the feature scheme; part of the identity hash. Change it
// whenever the vectors change.
constexpr char kLexicalVersion[] = "vdb-lexical-v1";
constexpr uint64_t kSeed = 0x7664622d6c657831ull;
constexpr float kWordWeight = 1.0f;
constexpr float kPairWeight = 0.5f;
constexpr float kGramWeight = 1.0f;
constexpr float kStopWordScale = 0.25f;

bool IsStopWord(std::string_view w) {
  static constexpr std::string_view kStop[] = {
      "a", "an", "and", "are", "as", "at", "be", "by", "for", "from", "has", "have",
      "in", "is", "it", "its", "of", "on", "or", "that", "the", "this", "to", "was",
      "were", "what", "which", "with"};
  for (std::string_view s : kStop) {
    if (s == w) return true;
  }
  return false;
}

void AddFeature(char kind, std::string_view a, std::string_view b, float weight,
                size_t dim, float* out) {
  char buf[256];
  std::string big;
  size_t n = 1 + a.size() + (b.empty() ? 0 : 1 + b.size());
  char* key = buf;
  if (n > sizeof(buf)) {
    big.resize(n);
    key = big.data();
  }
  key[0] = kind;
  std::memcpy(key + 1, a.data(), a.size());
  if (!b.empty()) {
    key[1 + a.size()] = ' ';
    std::memcpy(key + 2 + a.size(), b.data(), b.size());
  }
  uint64_t h = XXH3_64bits_withSeed(key, n, kSeed);
  size_t idx = static_cast<size_t>((h & 0x7fffffffffffffffull) % dim);
  out[idx] += (h >> 63) ? -weight : weight;
}

// Lower-cased, accent-stripped words: letters and digits; every CJK
// ideograph is a word of its own.
std::vector<std::u32string> Words(std::string_view text) {
  std::vector<char32_t> cps, norm, tmp;
  unicode::DecodeUtf8(text, &cps);
  for (char32_t cp : cps) {
    tmp.clear();
    unicode::AppendDecomposedWithoutMarks(cp, &tmp);
    for (char32_t c : tmp) unicode::AppendLowercase(c, &norm);
  }
  std::vector<std::u32string> words;
  std::u32string cur;
  for (char32_t cp : norm) {
    bool sep = unicode::IsWhitespace(cp) || unicode::IsPunctuation(cp) ||
               unicode::IsControl(cp) || cp == 0xFFFD;
    if (unicode::IsCjk(cp)) {
      if (!cur.empty()) words.push_back(std::move(cur));
      cur.clear();
      words.push_back(std::u32string(1, cp));
    } else if (sep) {
      if (!cur.empty()) words.push_back(std::move(cur));
      cur.clear();
    } else {
      cur.push_back(cp);
    }
  }
  if (!cur.empty()) words.push_back(std::move(cur));
  return words;
}

std::string Utf8(std::u32string_view s) {
  std::string out;
  for (char32_t c : s) unicode::AppendUtf8(c, &out);
  return out;
}

class LexicalEmbedder : public EmbedderBackend {
 public:
  explicit LexicalEmbedder(size_t dim) : dim_(dim) {}
  size_t dim() const override { return dim_; }
  Result<std::vector<std::vector<float>>> Embed(std::span<const std::string> texts) const override {
    std::vector<std::vector<float>> out(texts.size(), std::vector<float>(dim_));
    for (size_t i = 0; i < texts.size(); ++i) LexicalEmbed(texts[i], dim_, out[i].data());
    return out;
  }
  Result<std::vector<std::vector<int32_t>>> Tokenize(std::span<const std::string>) const override {
    return Status::NotSupported(
        "model 'hash' (the lexical embedder) has no vocabulary and no token ids");
  }
  ModelIdentity identity() const override {
    std::string key = std::string(kLexicalVersion) + ":" + std::to_string(dim_);
    XXH128_hash_t h = XXH3_128bits(key.data(), key.size());
    char hex[33];
    snprintf(hex, sizeof(hex), "%016llx%016llx", static_cast<unsigned long long>(h.high64),
             static_cast<unsigned long long>(h.low64));
    return ModelIdentity{"hash", static_cast<uint32_t>(dim_), hex};
  }
  bool is_lexical() const override { return true; }
  std::string Describe() const override {
    return "hash: built-in lexical embedder (hashed words and character n-grams), " +
           std::to_string(dim_) + " dimensions; it matches words, not meaning";
  }
  size_t max_seq_length() const override { return 0; }

 private:
  size_t dim_;
};

}  // namespace

bool IsLexicalSpec(std::string_view spec) {
  return spec == "hash" || spec.starts_with("hash:");
}

Result<std::unique_ptr<EmbedderBackend>> CreateLexicalEmbedder(std::string_view spec) {
  size_t dim = kLexicalDefaultDim;
  if (spec.starts_with("hash:")) {
    std::string_view num = spec.substr(5);
    size_t v = 0;
    auto [p, ec] = std::from_chars(num.data(), num.data() + num.size(), v);
    if (num.empty() || ec != std::errc() || p != num.data() + num.size() ||
        v < kLexicalMinDim || v > kLexicalMaxDim) {
      return Status::InvalidArgument("model spec \"" + std::string(spec) +
                                     "\": DIM must be an integer in [" +
                                     std::to_string(kLexicalMinDim) + ", " +
                                     std::to_string(kLexicalMaxDim) + "]");
    }
    dim = v;
  } else if (spec != "hash") {
    return Status::InvalidArgument("not a lexical model spec: \"" + std::string(spec) + "\"");
  }
  return std::unique_ptr<EmbedderBackend>(new LexicalEmbedder(dim));
}

void LexicalEmbed(std::string_view text, size_t dim, float* out) {
  std::fill(out, out + dim, 0.0f);
  std::vector<std::u32string> words = Words(text);
  std::vector<std::string> utf8;
  utf8.reserve(words.size());
  for (const auto& w : words) utf8.push_back(Utf8(w));
  for (size_t i = 0; i < words.size(); ++i) {
    const float scale = IsStopWord(utf8[i]) ? kStopWordScale : 1.0f;
    AddFeature('w', utf8[i], {}, kWordWeight * scale, dim, out);
    if (i + 1 < words.size()) {
      const float pair_scale = scale * (IsStopWord(utf8[i + 1]) ? kStopWordScale : 1.0f);
      AddFeature('p', utf8[i], utf8[i + 1], kPairWeight * pair_scale, dim, out);
    }
    // Character n-grams of "<word>", so related forms share features.
    std::u32string marked = U"<" + words[i] + U">";
    std::vector<std::string> grams;
    for (size_t n = 3; n <= 5; ++n) {
      for (size_t s = 0; s + n <= marked.size(); ++s) {
        grams.push_back(Utf8(std::u32string_view(marked).substr(s, n)));
      }
    }
    if (grams.empty()) continue;
    const float w = kGramWeight * scale / std::sqrt(static_cast<float>(grams.size()));
    for (const std::string& g : grams) AddFeature('g', g, {}, w, dim, out);
  }
  double norm = 0;
  for (size_t j = 0; j < dim; ++j) norm += static_cast<double>(out[j]) * out[j];
  if (norm > 0) {
    float inv = static_cast<float>(1.0 / std::sqrt(norm));
    for (size_t j = 0; j < dim; ++j) out[j] *= inv;
  }
}

}  // namespace vdb::embed
