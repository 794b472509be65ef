// The built-in lexical embedder ("hash", "hash:DIM"): a deterministic
// feature-hashing vectorizer. Text is lower-cased and accent-stripped, split
// into words; features are the words, adjacent word pairs and the character
// 3- to 5-grams of each word (with boundary marks), weighted (common English
// function words count less), hashed with XXH3 into DIM signed buckets, and
// the vector is L2-normalized. Similar texts share words, so cosine measures
// word overlap, NOT meaning.
#pragma once

#include <memory>
#include <string_view>

#include "engine/embed/embedder_backend.h"

namespace vdb::embed {

inline constexpr size_t kLexicalDefaultDim = 384;
inline constexpr size_t kLexicalMinDim = 8;
inline constexpr size_t kLexicalMaxDim = 65536;

// True for "hash" and "hash:..." (which CreateLexicalEmbedder then checks).
bool IsLexicalSpec(std::string_view spec);
// Parses "hash" or "hash:DIM" (DIM in [kLexicalMinDim, kLexicalMaxDim]).
Result<std::unique_ptr<EmbedderBackend>> CreateLexicalEmbedder(std::string_view spec);

// The lexical vector of one text (dim floats, L2-normalized; all zeros when
// the text has no words).
void LexicalEmbed(std::string_view text, size_t dim, float* out);

}  // namespace vdb::embed
