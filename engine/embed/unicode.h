// Unicode helpers for the BERT normalizer: UTF-8 decoding and the character
// classes and mappings Hugging Face's BertNormalizer / BertPreTokenizer use.
// All functions are pure and thread-safe.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace vdb::embed::unicode {

// Decodes UTF-8 into code points. Invalid sequences (bad lead or continuation
// bytes, overlong forms, surrogates, > U+10FFFF, truncation) become U+FFFD,
// one per offending byte, as a lossy decoder does.
void DecodeUtf8(std::string_view text, std::vector<char32_t>* out);
// Appends the UTF-8 encoding of cp (assumed a valid scalar value).
void AppendUtf8(char32_t cp, std::string* out);

// Category C* except \t \n \r (which count as whitespace).
bool IsControl(char32_t cp);
// \t \n \r or the Unicode White_Space property.
bool IsWhitespace(char32_t cp);
// ASCII punctuation (!../:..@/[..`/{..~) or general category P*.
bool IsPunctuation(char32_t cp);
// General category Mn.
bool IsNonspacingMark(char32_t cp);
// The CJK Unified Ideograph blocks BERT pads with spaces.
bool IsCjk(char32_t cp);
// Appends the canonical decomposition of cp without its nonspacing marks
// (NFD followed by removal of Mn), Hangul syllables included.
void AppendDecomposedWithoutMarks(char32_t cp, std::vector<char32_t>* out);
// Appends the full lowercase mapping of cp (one or more code points).
void AppendLowercase(char32_t cp, std::vector<char32_t>* out);

}  // namespace vdb::embed::unicode
