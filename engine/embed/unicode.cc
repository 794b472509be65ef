#include "engine/embed/unicode.h"

#include <algorithm>

#include "engine/embed/unicode_tables.h"

namespace vdb::embed::unicode {
namespace {

using unicode_tables::CodeRange;

bool InRanges(const CodeRange* table, size_t n, char32_t cp) {
  const CodeRange* end = table + n;
  const CodeRange* it = std::upper_bound(
      table, end, static_cast<uint32_t>(cp),
      [](uint32_t v, const CodeRange& r) { return v < r.first; });
  if (it == table) return false;
  --it;
  return cp >= it->first && cp <= it->last;
}

// Looks cp up in a flattened map (cp, n, n code points...). The maps are
// small enough that a one-time index is not worth it: a linear scan to build
// an index happens once per process.
struct MapIndex {
  std::vector<uint32_t> keys;
  std::vector<uint32_t> offsets;  // offset of the count entry
  MapIndex(const uint32_t* data, size_t size) {
    for (size_t i = 0; i + 1 < size;) {
      keys.push_back(data[i]);
      offsets.push_back(static_cast<uint32_t>(i + 1));
      i += 2 + data[i + 1];
    }
  }
};

bool AppendMapped(const uint32_t* data, const MapIndex& index, char32_t cp,
                  std::vector<char32_t>* out) {
  auto it = std::lower_bound(index.keys.begin(), index.keys.end(),
                             static_cast<uint32_t>(cp));
  if (it == index.keys.end() || *it != cp) return false;
  uint32_t off = index.offsets[it - index.keys.begin()];
  uint32_t n = data[off];
  for (uint32_t i = 0; i < n; ++i) out->push_back(data[off + 1 + i]);
  return true;
}

const MapIndex& DecompositionIndex() {
  static const MapIndex index(unicode_tables::kDecomposition,
                              unicode_tables::kDecompositionSize);
  return index;
}

const MapIndex& LowercaseIndex() {
  static const MapIndex index(unicode_tables::kLowercase,
                              unicode_tables::kLowercaseSize);
  return index;
}

constexpr char32_t kReplacement = 0xFFFD;

}  // namespace

void DecodeUtf8(std::string_view text, std::vector<char32_t>* out) {
  const auto* s = reinterpret_cast<const unsigned char*>(text.data());
  size_t n = text.size();
  size_t i = 0;
  while (i < n) {
    unsigned char c = s[i];
    if (c < 0x80) {
      out->push_back(c);
      ++i;
      continue;
    }
    int len;
    char32_t cp;
    char32_t min;
    if (c >= 0xC2 && c <= 0xDF) {
      len = 2; cp = c & 0x1F; min = 0x80;
    } else if (c >= 0xE0 && c <= 0xEF) {
      len = 3; cp = c & 0x0F; min = 0x800;
    } else if (c >= 0xF0 && c <= 0xF4) {
      len = 4; cp = c & 0x07; min = 0x10000;
    } else {
      out->push_back(kReplacement);
      ++i;
      continue;
    }
    if (i + len > n) {
      out->push_back(kReplacement);
      ++i;
      continue;
    }
    bool ok = true;
    for (int k = 1; k < len; ++k) {
      unsigned char cc = s[i + k];
      if ((cc & 0xC0) != 0x80) { ok = false; break; }
      cp = (cp << 6) | (cc & 0x3F);
    }
    if (!ok || cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) {
      out->push_back(kReplacement);
      ++i;
      continue;
    }
    out->push_back(cp);
    i += len;
  }
}

void AppendUtf8(char32_t cp, std::string* out) {
  if (cp < 0x80) {
    out->push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out->push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out->push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    out->push_back(static_cast<char>(0xF0 | (cp >> 18)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

bool IsControl(char32_t cp) {
  if (cp == '\t' || cp == '\n' || cp == '\r') return false;
  return InRanges(unicode_tables::kOther, unicode_tables::kOtherSize, cp);
}

bool IsWhitespace(char32_t cp) {
  switch (cp) {
    case 0x09: case 0x0A: case 0x0B: case 0x0C: case 0x0D: case 0x20:
    case 0x85: case 0xA0: case 0x1680: case 0x2028: case 0x2029:
    case 0x202F: case 0x205F: case 0x3000:
      return true;
    default:
      return cp >= 0x2000 && cp <= 0x200A;
  }
}

bool IsPunctuation(char32_t cp) {
  if ((cp >= 33 && cp <= 47) || (cp >= 58 && cp <= 64) ||
      (cp >= 91 && cp <= 96) || (cp >= 123 && cp <= 126)) {
    return true;
  }
  if (cp < 128) return false;
  return InRanges(unicode_tables::kPunctuation,
                  unicode_tables::kPunctuationSize, cp);
}

bool IsNonspacingMark(char32_t cp) {
  if (cp < 0x300) return false;
  return InRanges(unicode_tables::kNonspacingMark,
                  unicode_tables::kNonspacingMarkSize, cp);
}

bool IsCjk(char32_t cp) {
  return (cp >= 0x4E00 && cp <= 0x9FFF) || (cp >= 0x3400 && cp <= 0x4DBF) ||
         (cp >= 0x20000 && cp <= 0x2A6DF) || (cp >= 0x2A700 && cp <= 0x2B73F) ||
         (cp >= 0x2B740 && cp <= 0x2B81F) || (cp >= 0x2B820 && cp <= 0x2CEAF) ||
         (cp >= 0xF900 && cp <= 0xFAFF) || (cp >= 0x2F800 && cp <= 0x2FA1F);
}

void AppendDecomposedWithoutMarks(char32_t cp, std::vector<char32_t>* out) {
  if (cp < 0xC0) {
    out->push_back(cp);
    return;
  }
  // Hangul syllables: algorithmic decomposition (Unicode 3.12).
  constexpr char32_t kSBase = 0xAC00, kLBase = 0x1100, kVBase = 0x1161,
                     kTBase = 0x11A7;
  constexpr int kVCount = 21, kTCount = 28, kNCount = kVCount * kTCount,
                kSCount = 11172;
  if (cp >= kSBase && cp < kSBase + kSCount) {
    int s = static_cast<int>(cp - kSBase);
    out->push_back(kLBase + s / kNCount);
    out->push_back(kVBase + (s % kNCount) / kTCount);
    if (s % kTCount != 0) out->push_back(kTBase + s % kTCount);
    return;
  }
  if (AppendMapped(unicode_tables::kDecomposition, DecompositionIndex(), cp,
                   out)) {
    return;
  }
  if (!IsNonspacingMark(cp)) out->push_back(cp);
}

void AppendLowercase(char32_t cp, std::vector<char32_t>* out) {
  if (cp < 0x80) {
    out->push_back(cp >= 'A' && cp <= 'Z' ? cp + 32 : cp);
    return;
  }
  if (!AppendMapped(unicode_tables::kLowercase, LowercaseIndex(), cp, out)) {
    out->push_back(cp);
  }
}

}  // namespace vdb::embed::unicode
