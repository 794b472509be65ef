// BERT WordPiece tokenizer with Hugging Face's BertTokenizer behaviour:
// added (special) tokens matched in the raw text, BertNormalizer (text
// cleanup, CJK padding, accent stripping, lower-casing), BertPreTokenizer
// (whitespace and punctuation splitting) and greedy longest-match WordPiece
// with "##" continuations; [CLS] ... [SEP] around at most max_length - 2
// pieces.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "vdb/status.h"

namespace vdb::embed {

// How text is normalized and split; read from tokenizer.json's "normalizer"
// and "model" or from tokenizer_config.json.
struct TokenizerOptions {
  bool clean_text = true;
  bool handle_chinese_chars = true;
  bool strip_accents = true;
  bool lowercase = true;
  std::string unk_token = "[UNK]";
  std::string cls_token = "[CLS]";
  std::string sep_token = "[SEP]";
  std::string pad_token = "[PAD]";
  std::string continuing_subword_prefix = "##";
  // Words with more characters than this become [UNK].
  size_t max_input_chars_per_word = 100;
  // Total ids including [CLS] and [SEP]; at least 2.
  size_t max_length = 512;
};

// Immutable after construction; Encode is thread-safe.
class Tokenizer {
 public:
  // Builds from a token list (id = position). Special tokens must all be in
  // the list. added_tokens are matched in raw text before normalization.
  static Result<std::unique_ptr<Tokenizer>> Create(
      std::vector<std::string> vocab, TokenizerOptions options,
      std::vector<std::string> added_tokens);

  // Reads dir/tokenizer.json if present (otherwise tokenizer_config.json and
  // special_tokens_map.json), and dir/vocab.txt; when both vocabularies exist
  // they must agree. max_length is the truncation length (ids incl. specials).
  static Result<std::unique_ptr<Tokenizer>> FromDirectory(
      const std::string& dir, size_t max_length);

  // Token ids: [CLS], up to max_length - 2 pieces, [SEP].
  std::vector<int32_t> Encode(std::string_view text) const;
  // The WordPiece pieces of text without specials or truncation (tests, tools).
  std::vector<std::string> Pieces(std::string_view text) const;

  size_t vocab_size() const { return vocab_.size(); }
  const std::vector<std::string>& vocab() const { return vocab_; }
  const TokenizerOptions& options() const { return options_; }
  int32_t pad_id() const { return pad_id_; }
  int32_t cls_id() const { return cls_id_; }
  int32_t sep_id() const { return sep_id_; }
  int32_t unk_id() const { return unk_id_; }

 private:
  struct StringHash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const {
      return std::hash<std::string_view>()(s);
    }
  };
  using IdMap = std::unordered_map<std::string, int32_t, StringHash,
                                   std::equal_to<>>;

  Tokenizer() = default;
  // Appends the ids of a text segment without added tokens; stops once `out`
  // holds `limit` ids.
  void EncodeSegment(std::string_view text, size_t limit,
                     std::vector<int32_t>* out,
                     std::vector<std::string>* pieces) const;
  void EncodeWord(const std::vector<char32_t>& word, std::vector<int32_t>* out,
                  std::vector<std::string>* pieces) const;
  int32_t Lookup(std::string_view token) const;

  TokenizerOptions options_;
  std::vector<std::string> vocab_;
  IdMap ids_;
  // Added tokens, longest first, with their ids.
  std::vector<std::pair<std::string, int32_t>> added_;
  int32_t pad_id_ = 0, cls_id_ = 0, sep_id_ = 0, unk_id_ = 0;
};

}  // namespace vdb::embed
