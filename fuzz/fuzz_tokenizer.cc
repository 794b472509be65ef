// Fuzzes the BERT tokenizer (normalizer, pre-tokenizer, WordPiece, added
// tokens, truncation) on arbitrary bytes. The first byte picks the options.
// Invariants: [CLS] first, [SEP] last, at most max_length ids, every id in
// the vocabulary, and the same input always gives the same ids.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "engine/embed/tokenizer.h"

namespace {

using vdb::embed::Tokenizer;
using vdb::embed::TokenizerOptions;

std::vector<std::string> Vocab() {
  std::vector<std::string> v{"[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"};
  for (const char* w : {"the", "a", "cafe", "un", "##aff", "##able", "##s", "##ing", "hello",
                        "world", "vector", "data", "##base", "日", "本", "語", "e", "##e", "é",
                        "σ", "i", "##i", "ß", "0", "1", "##1"}) {
    v.push_back(w);
  }
  for (char c = 33; c < 127; ++c) {
    v.push_back(std::string(1, c));
    if (c >= 'a' && c <= 'z') v.push_back("##" + std::string(1, c));
  }
  return v;
}

const Tokenizer* Get(int variant) {
  static const Tokenizer* tokenizers[8] = {};
  if (tokenizers[variant] == nullptr) {
    TokenizerOptions o;
    o.lowercase = variant & 1;
    o.strip_accents = variant & 2;
    o.handle_chinese_chars = variant & 4;
    o.max_length = 3 + variant * 5;
    o.max_input_chars_per_word = 20;
    auto t = Tokenizer::Create(Vocab(), o, {"[CLS]", "[SEP]", "[MASK]", "[UNK]", "[PAD]"});
    if (!t.ok()) std::abort();
    tokenizers[variant] = std::move(t).value().release();
  }
  return tokenizers[variant];
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const Tokenizer* t = Get(data[0] & 7);
  std::string_view text(reinterpret_cast<const char*>(data + 1), size - 1);
  std::vector<int32_t> ids = t->Encode(text);
  if (ids.size() < 2 || ids.size() > t->options().max_length) std::abort();
  if (ids.front() != t->cls_id() || ids.back() != t->sep_id()) std::abort();
  for (int32_t id : ids) {
    if (id < 0 || static_cast<size_t>(id) >= t->vocab_size()) std::abort();
  }
  if (t->Encode(text) != ids) std::abort();
  for (const std::string& p : t->Pieces(text)) {
    if (p.empty()) std::abort();
  }
  return 0;
}
