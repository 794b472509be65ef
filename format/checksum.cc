#include "format/checksum.h"

#include <xxhash.h>

#include "format/coding.h"

namespace vdb::format {

uint64_t Checksum64(const void* data, size_t len, uint64_t seed) { return XXH3_64bits_withSeed(data, len, seed); }

Checksummer::Checksummer(uint64_t seed) : state_(XXH3_createState()) {
  XXH3_64bits_reset_withSeed(static_cast<XXH3_state_t*>(state_), seed);
}
Checksummer::~Checksummer() { XXH3_freeState(static_cast<XXH3_state_t*>(state_)); }
void Checksummer::Update(const void* data, size_t len) {
  XXH3_64bits_update(static_cast<XXH3_state_t*>(state_), data, len);
}
uint64_t Checksummer::Digest() const { return XXH3_64bits_digest(static_cast<XXH3_state_t*>(state_)); }

uint64_t UuidSeed(const uint8_t uuid[16]) { return GetU64(uuid) ^ (GetU64(uuid + 8) * 0x9E3779B97F4A7C15ull); }

}  // namespace vdb::format
