// Little-endian fixed-width encoding. Every on-disk integer goes through
// these; structs are never memcpy'd to disk.
#pragma once

#include <bit>
#include <cstdint>
#include <cstring>
#include <string>

namespace vdb::format {

inline void PutU8(uint8_t* p, uint8_t v) { p[0] = v; }
inline void PutU16(uint8_t* p, uint16_t v) {
  p[0] = static_cast<uint8_t>(v);
  p[1] = static_cast<uint8_t>(v >> 8);
}
inline void PutU32(uint8_t* p, uint32_t v) {
  for (int i = 0; i < 4; i++) p[i] = static_cast<uint8_t>(v >> (8 * i));
}
inline void PutU64(uint8_t* p, uint64_t v) {
  for (int i = 0; i < 8; i++) p[i] = static_cast<uint8_t>(v >> (8 * i));
}
inline void PutF32(uint8_t* p, float f) {
  uint32_t v;
  std::memcpy(&v, &f, 4);
  PutU32(p, v);
}
// Decoding is a plain load: vdb builds only for little-endian hosts (vectors
// are read in place from the map).
static_assert(std::endian::native == std::endian::little, "vdb's on-disk format is little-endian");
inline uint8_t GetU8(const uint8_t* p) { return p[0]; }
inline uint16_t GetU16(const uint8_t* p) {
  uint16_t v;
  std::memcpy(&v, p, 2);
  return v;
}
inline uint32_t GetU32(const uint8_t* p) {
  uint32_t v;
  std::memcpy(&v, p, 4);
  return v;
}
inline uint64_t GetU64(const uint8_t* p) {
  uint64_t v;
  std::memcpy(&v, p, 8);
  return v;
}
inline float GetF32(const uint8_t* p) {
  uint32_t v = GetU32(p);
  float f;
  std::memcpy(&f, &v, 4);
  return f;
}

// Appending variants for building variable-length buffers.
inline void AppendU8(std::string* s, uint8_t v) { s->push_back(static_cast<char>(v)); }
inline void AppendU32(std::string* s, uint32_t v) {
  uint8_t b[4];
  PutU32(b, v);
  s->append(reinterpret_cast<char*>(b), 4);
}
inline void AppendU64(std::string* s, uint64_t v) {
  uint8_t b[8];
  PutU64(b, v);
  s->append(reinterpret_cast<char*>(b), 8);
}

}  // namespace vdb::format
