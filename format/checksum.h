// Checksums: XXH3-64. Seeds bind a checksum to where its bytes belong (file
// id, page number, WAL generation), so a correct page written at the wrong
// place, or a WAL record left from an older generation, fails verification.
// See docs/format.md#checksums.
#pragma once

#include <cstddef>
#include <cstdint>

namespace vdb::format {

uint64_t Checksum64(const void* data, size_t len, uint64_t seed);

// Streaming form for checksums over several pieces.
class Checksummer {
 public:
  explicit Checksummer(uint64_t seed);
  ~Checksummer();
  Checksummer(const Checksummer&) = delete;
  Checksummer& operator=(const Checksummer&) = delete;
  void Update(const void* data, size_t len);
  uint64_t Digest() const;

 private:
  void* state_;  // XXH3_state_t
};

// The 64-bit seed derived from a file's 16-byte UUID.
uint64_t UuidSeed(const uint8_t uuid[16]);

}  // namespace vdb::format
