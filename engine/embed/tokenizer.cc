#include "engine/embed/tokenizer.h"

#include <algorithm>

#include "engine/embed/file_util.h"
#include "engine/embed/unicode.h"

namespace vdb::embed {
namespace {

// Reads vocab.txt: one token per line, id = line number ('\n' separated; a
// trailing '\r' is kept, as Hugging Face does).
std::vector<std::string> ParseVocabTxt(std::string_view text) {
  std::vector<std::string> vocab;
  size_t start = 0;
  while (start < text.size()) {
    size_t nl = text.find('\n', start);
    if (nl == std::string_view::npos) nl = text.size();
    vocab.emplace_back(text.substr(start, nl - start));
    start = nl + 1;
  }
  return vocab;
}

// Reads a special token that may be a string or {"content": "..."}.
std::string SpecialToken(const nlohmann::json& obj, const char* key,
                         const std::string& fallback) {
  if (!obj.is_object()) return fallback;
  auto it = obj.find(key);
  if (it == obj.end()) return fallback;
  if (it->is_string()) return it->get<std::string>();
  if (it->is_object()) {
    auto c = it->find("content");
    if (c != it->end() && c->is_string()) return c->get<std::string>();
  }
  return fallback;
}

struct TokenizerJson {
  TokenizerOptions options;
  std::vector<std::string> vocab;
  std::vector<std::string> added;
};

Result<TokenizerJson> ParseTokenizerJson(const nlohmann::json& j,
                                         const std::string& what) {
  TokenizerJson out;
  if (!j.is_object()) return Status::InvalidArgument(what + ": not a JSON object");
  const auto norm = j.find("normalizer");
  if (norm != j.end() && !norm->is_null()) {
    VDB_ASSIGN_OR_RETURN(std::string type, JsonString(*norm, "type", "", what));
    if (type != "BertNormalizer") {
      return Status::NotSupported(what + ": normalizer \"" + type +
                                  "\" is not supported (BertNormalizer only)");
    }
    auto& o = out.options;
    VDB_ASSIGN_OR_RETURN(o.clean_text, JsonBool(*norm, "clean_text", true, what));
    VDB_ASSIGN_OR_RETURN(o.handle_chinese_chars,
                         JsonBool(*norm, "handle_chinese_chars", true, what));
    VDB_ASSIGN_OR_RETURN(o.lowercase, JsonBool(*norm, "lowercase", true, what));
    // strip_accents null means "follow lowercase".
    VDB_ASSIGN_OR_RETURN(o.strip_accents,
                         JsonBool(*norm, "strip_accents", o.lowercase, what));
  }
  const auto model = j.find("model");
  if (model == j.end() || !model->is_object()) {
    return Status::InvalidArgument(what + ": missing \"model\" object");
  }
  VDB_ASSIGN_OR_RETURN(std::string type, JsonString(*model, "type", "WordPiece", what));
  if (type != "WordPiece") {
    return Status::NotSupported(what + ": tokenizer model \"" + type +
                                "\" is not supported (WordPiece only)");
  }
  auto& o = out.options;
  VDB_ASSIGN_OR_RETURN(o.unk_token, JsonString(*model, "unk_token", "[UNK]", what));
  VDB_ASSIGN_OR_RETURN(o.continuing_subword_prefix,
                       JsonString(*model, "continuing_subword_prefix", "##", what));
  VDB_ASSIGN_OR_RETURN(int64_t max_chars,
                       JsonInt(*model, "max_input_chars_per_word", 100, what));
  if (max_chars < 1) return Status::InvalidArgument(what + ": max_input_chars_per_word < 1");
  o.max_input_chars_per_word = static_cast<size_t>(max_chars);
  const auto vocab = model->find("vocab");
  if (vocab == model->end() || !vocab->is_object()) {
    return Status::InvalidArgument(what + ": missing model.vocab object");
  }
  size_t n = vocab->size();
  out.vocab.assign(n, std::string());
  std::vector<bool> seen(n, false);
  for (auto it = vocab->begin(); it != vocab->end(); ++it) {
    if (!it->is_number_integer() || it->get<int64_t>() < 0 ||
        it->get<int64_t>() >= static_cast<int64_t>(n)) {
      return Status::InvalidArgument(what + ": model.vocab id of \"" + it.key() +
                                     "\" is not an integer in [0, " +
                                     std::to_string(n) + ")");
    }
    size_t id = it->get<size_t>();
    if (seen[id]) {
      return Status::InvalidArgument(what + ": model.vocab id " + std::to_string(id) +
                                     " is used twice");
    }
    seen[id] = true;
    out.vocab[id] = it.key();
  }
  const auto added = j.find("added_tokens");
  if (added != j.end() && added->is_array()) {
    for (const auto& t : *added) {
      VDB_ASSIGN_OR_RETURN(std::string content, JsonString(t, "content", "", what));
      if (!content.empty()) out.added.push_back(content);
    }
  }
  return out;
}

}  // namespace

Result<std::unique_ptr<Tokenizer>> Tokenizer::Create(
    std::vector<std::string> vocab, TokenizerOptions options,
    std::vector<std::string> added_tokens) {
  if (options.max_length < 2) {
    return Status::InvalidArgument("tokenizer: max_length must be at least 2");
  }
  if (vocab.size() > static_cast<size_t>(INT32_MAX)) {
    return Status::InvalidArgument("tokenizer: vocabulary too large");
  }
  std::unique_ptr<Tokenizer> t(new Tokenizer());
  t->ids_.reserve(vocab.size());
  for (size_t i = 0; i < vocab.size(); ++i) {
    // Like Hugging Face's load_vocab, a later duplicate wins.
    t->ids_[vocab[i]] = static_cast<int32_t>(i);
  }
  t->vocab_ = std::move(vocab);
  t->options_ = std::move(options);
  struct Special { const std::string* token; int32_t* id; };
  for (Special s : {Special{&t->options_.unk_token, &t->unk_id_},
                    Special{&t->options_.cls_token, &t->cls_id_},
                    Special{&t->options_.sep_token, &t->sep_id_},
                    Special{&t->options_.pad_token, &t->pad_id_}}) {
    int32_t id = t->Lookup(*s.token);
    if (id < 0) {
      return Status::InvalidArgument("tokenizer: special token \"" + *s.token +
                                     "\" is not in the vocabulary");
    }
    *s.id = id;
  }
  for (std::string& a : added_tokens) {
    int32_t id = t->Lookup(a);
    if (id < 0) {
      return Status::InvalidArgument("tokenizer: added token \"" + a +
                                     "\" is not in the vocabulary");
    }
    t->added_.emplace_back(std::move(a), id);
  }
  std::stable_sort(t->added_.begin(), t->added_.end(),
                   [](const auto& a, const auto& b) {
                     return a.first.size() > b.first.size();
                   });
  return t;
}

Result<std::unique_ptr<Tokenizer>> Tokenizer::FromDirectory(
    const std::string& dir, size_t max_length) {
  const std::string vocab_path = JoinPath(dir, "vocab.txt");
  const std::string json_path = JoinPath(dir, "tokenizer.json");
  std::vector<std::string> vocab;
  TokenizerOptions options;
  std::vector<std::string> added;
  bool have_json = PathIsFile(json_path);
  bool have_txt = PathIsFile(vocab_path);
  if (!have_json && !have_txt) {
    return Status::NotFound(dir + ": no tokenizer (neither vocab.txt nor tokenizer.json)");
  }
  if (have_json) {
    VDB_ASSIGN_OR_RETURN(nlohmann::json j, ReadJsonFile(json_path));
    VDB_ASSIGN_OR_RETURN(TokenizerJson tj, ParseTokenizerJson(j, json_path));
    options = std::move(tj.options);
    vocab = std::move(tj.vocab);
    added = std::move(tj.added);
  }
  // Special token names from tokenizer_config.json / special_tokens_map.json.
  for (const char* name : {"tokenizer_config.json", "special_tokens_map.json"}) {
    std::string path = JoinPath(dir, name);
    if (!PathIsFile(path)) continue;
    VDB_ASSIGN_OR_RETURN(nlohmann::json cfg, ReadJsonFile(path));
    if (!cfg.is_object()) return Status::InvalidArgument(path + ": not a JSON object");
    options.unk_token = SpecialToken(cfg, "unk_token", options.unk_token);
    options.cls_token = SpecialToken(cfg, "cls_token", options.cls_token);
    options.sep_token = SpecialToken(cfg, "sep_token", options.sep_token);
    options.pad_token = SpecialToken(cfg, "pad_token", options.pad_token);
    if (!have_json && std::string_view(name) == "tokenizer_config.json") {
      VDB_ASSIGN_OR_RETURN(std::string cls, JsonString(cfg, "tokenizer_class", "BertTokenizer", path));
      if (cls != "BertTokenizer" && cls != "BertTokenizerFast" &&
          cls != "DistilBertTokenizer" && cls != "DistilBertTokenizerFast") {
        return Status::NotSupported(path + ": tokenizer_class \"" + cls +
                                    "\" is not supported (BERT WordPiece only)");
      }
      VDB_ASSIGN_OR_RETURN(options.lowercase, JsonBool(cfg, "do_lower_case", true, path));
      VDB_ASSIGN_OR_RETURN(options.strip_accents,
                           JsonBool(cfg, "strip_accents", options.lowercase, path));
      VDB_ASSIGN_OR_RETURN(options.handle_chinese_chars,
                           JsonBool(cfg, "tokenize_chinese_chars", true, path));
    }
  }
  if (have_txt) {
    VDB_ASSIGN_OR_RETURN(std::string text, ReadFileToString(vocab_path));
    std::vector<std::string> txt = ParseVocabTxt(text);
    if (have_json) {
      if (txt.size() != vocab.size()) {
        return Status::InvalidArgument(
            "vocab mismatch: " + vocab_path + " has " + std::to_string(txt.size()) +
            " tokens but " + json_path + " has " + std::to_string(vocab.size()));
      }
      for (size_t i = 0; i < txt.size(); ++i) {
        if (txt[i] != vocab[i]) {
          return Status::InvalidArgument(
              "vocab mismatch: id " + std::to_string(i) + " is \"" + txt[i] +
              "\" in " + vocab_path + " but \"" + vocab[i] + "\" in " + json_path);
        }
      }
    } else {
      vocab = std::move(txt);
      added = {options.unk_token, options.cls_token, options.sep_token,
               options.pad_token, "[MASK]"};
      added.erase(std::remove_if(added.begin(), added.end(),
                                 [&](const std::string& s) {
                                   return std::find(vocab.begin(), vocab.end(), s) == vocab.end();
                                 }),
                  added.end());
    }
  }
  options.max_length = max_length;
  auto t = Create(std::move(vocab), std::move(options), std::move(added));
  if (!t.ok()) return t.status().WithContext(dir);
  return t;
}

int32_t Tokenizer::Lookup(std::string_view token) const {
  auto it = ids_.find(token);
  return it == ids_.end() ? -1 : it->second;
}

std::vector<int32_t> Tokenizer::Encode(std::string_view text) const {
  std::vector<int32_t> ids;
  ids.reserve(std::min<size_t>(options_.max_length, text.size() / 3 + 8));
  ids.push_back(cls_id_);
  const size_t limit = options_.max_length - 1;  // room for [SEP]
  // Split on added tokens (leftmost, longest), encode the segments between.
  size_t pos = 0;
  size_t seg_start = 0;
  while (pos < text.size() && ids.size() < limit) {
    bool matched = false;
    for (const auto& [tok, id] : added_) {
      if (text.compare(pos, tok.size(), tok) == 0) {
        EncodeSegment(text.substr(seg_start, pos - seg_start), limit, &ids, nullptr);
        if (ids.size() < limit) ids.push_back(id);
        pos += tok.size();
        seg_start = pos;
        matched = true;
        break;
      }
    }
    if (!matched) ++pos;
  }
  if (seg_start < text.size()) {
    EncodeSegment(text.substr(seg_start), limit, &ids, nullptr);
  }
  ids.push_back(sep_id_);
  return ids;
}

std::vector<std::string> Tokenizer::Pieces(std::string_view text) const {
  std::vector<int32_t> ids;
  std::vector<std::string> pieces;
  EncodeSegment(text, SIZE_MAX, &ids, &pieces);
  return pieces;
}

void Tokenizer::EncodeSegment(std::string_view text, size_t limit,
                              std::vector<int32_t>* out,
                              std::vector<std::string>* pieces) const {
  if (text.empty() || out->size() >= limit) return;
  std::vector<char32_t> cps;
  cps.reserve(text.size());
  unicode::DecodeUtf8(text, &cps);
  // Normalize: cleanup, CJK padding, accent stripping, lower-casing.
  std::vector<char32_t> norm;
  norm.reserve(cps.size() + 8);
  std::vector<char32_t> tmp;
  for (char32_t cp : cps) {
    if (options_.clean_text) {
      if (cp == 0 || cp == 0xFFFD || unicode::IsControl(cp)) continue;
      if (unicode::IsWhitespace(cp)) cp = ' ';
    }
    bool cjk = options_.handle_chinese_chars && unicode::IsCjk(cp);
    if (cjk) norm.push_back(' ');
    tmp.clear();
    if (options_.strip_accents) {
      unicode::AppendDecomposedWithoutMarks(cp, &tmp);
    } else {
      tmp.push_back(cp);
    }
    if (options_.lowercase) {
      for (char32_t c : tmp) unicode::AppendLowercase(c, &norm);
    } else {
      norm.insert(norm.end(), tmp.begin(), tmp.end());
    }
    if (cjk) norm.push_back(' ');
  }
  // Pre-tokenize: whitespace separates words; punctuation is its own word.
  std::vector<char32_t> word;
  for (size_t i = 0; i <= norm.size() && out->size() < limit; ++i) {
    char32_t cp = i < norm.size() ? norm[i] : ' ';
    bool space = unicode::IsWhitespace(cp);
    bool punct = !space && unicode::IsPunctuation(cp);
    if (space || punct) {
      if (!word.empty()) {
        EncodeWord(word, out, pieces);
        word.clear();
      }
      if (punct) {
        word.push_back(cp);
        EncodeWord(word, out, pieces);
        word.clear();
      }
    } else {
      word.push_back(cp);
    }
  }
  if (out->size() > limit) out->resize(limit);
  if (pieces != nullptr && pieces->size() > out->size()) pieces->resize(out->size());
}

void Tokenizer::EncodeWord(const std::vector<char32_t>& word,
                           std::vector<int32_t>* out,
                           std::vector<std::string>* pieces) const {
  if (word.size() > options_.max_input_chars_per_word) {
    out->push_back(unk_id_);
    if (pieces) pieces->push_back(options_.unk_token);
    return;
  }
  // UTF-8 bytes of the word and the byte offset of every character.
  std::string bytes;
  std::vector<size_t> offsets;
  offsets.reserve(word.size() + 1);
  for (char32_t cp : word) {
    offsets.push_back(bytes.size());
    unicode::AppendUtf8(cp, &bytes);
  }
  offsets.push_back(bytes.size());
  const size_t first_out = out->size();
  const size_t first_piece = pieces ? pieces->size() : 0;
  std::string candidate;
  size_t start = 0;
  while (start < word.size()) {
    size_t end = word.size();
    int32_t found = -1;
    while (end > start) {
      std::string_view sub(bytes.data() + offsets[start], offsets[end] - offsets[start]);
      if (start > 0) {
        candidate.assign(options_.continuing_subword_prefix);
        candidate.append(sub);
        found = Lookup(candidate);
      } else {
        found = Lookup(sub);
      }
      if (found >= 0) break;
      --end;
    }
    if (found < 0) {
      out->resize(first_out);
      out->push_back(unk_id_);
      if (pieces) {
        pieces->resize(first_piece);
        pieces->push_back(options_.unk_token);
      }
      return;
    }
    out->push_back(found);
    if (pieces) pieces->push_back(vocab_[found]);
    start = end;
  }
}

}  // namespace vdb::embed
