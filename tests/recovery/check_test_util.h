// Helpers for the checker and repair tests: small databases and byte-level
// damage (LevelDB-style IncrementByte / ShrinkSize / FixChecksum).
#pragma once

#include <fcntl.h>
#include <unistd.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "format/checksum.h"
#include "format/coding.h"
#include "format/constants.h"
#include "format/header.h"
#include "format/pages.h"
#include "vdb/db.h"

namespace vdb::checktest {

inline std::vector<float> VectorFor(uint32_t i, uint32_t dim) {
  std::vector<float> v(dim);
  for (uint32_t d = 0; d < dim; d++) v[d] = static_cast<float>((i * 31 + d * 7) % 97) / 97.0f - 0.5f;
  return v;
}

inline std::string IdFor(uint32_t i) { return "rec-" + std::to_string(i); }

// Small metadata for most records; every 7th gets a long one (zstd-compressed).
inline std::string MetadataFor(uint32_t i) {
  if (i % 7 == 3) return R"({"n":)" + std::to_string(i) + R"(,"text":")" + std::string(400, 'a' + i % 26) + "\"}";
  if (i % 5 == 0) return "";
  return R"({"n":)" + std::to_string(i) + R"(,"tag":"t)" + std::to_string(i % 3) + "\"}";
}

struct DbSpec {
  uint32_t dim = 8;
  uint32_t records = 40;
  uint32_t delete_every = 6;  // delete ids i % delete_every == 1 (0: none)
  uint32_t update_every = 9;  // re-put ids i % update_every == 2 (0: none)
};

inline std::unique_ptr<Database> Build(const std::string& path, const DbSpec& spec) {
  CreateOptions co;
  co.dim = spec.dim;
  co.metric = Metric::kCosine;
  OpenOptions oo;
  oo.sync = SyncMode::kNone;
  auto db = Database::Create(path, co, oo);
  if (!db.ok()) return nullptr;
  WriteBatch b;
  for (uint32_t i = 0; i < spec.records; i++) b.Put(IdFor(i), VectorFor(i, spec.dim), MetadataFor(i));
  if (!(*db)->Write(b).ok()) return nullptr;
  for (uint32_t i = 0; i < spec.records; i++)
    if (spec.delete_every && i % spec.delete_every == 1 && !(*db)->Delete(IdFor(i)).ok()) return nullptr;
  for (uint32_t i = 0; i < spec.records; i++)
    if (spec.update_every && i % spec.update_every == 2 &&
        !(*db)->Put(IdFor(i), VectorFor(i + 1000, spec.dim), MetadataFor(i)).ok())
      return nullptr;
  // Compaction frees the tombstoned slots; later deletes leave tombstones, and
  // later puts reuse free slots, so all three slot states are present.
  if (spec.delete_every && !(*db)->Compact().ok()) return nullptr;
  if (!(*db)->Checkpoint().ok()) return nullptr;
  for (uint32_t i = spec.records; i < spec.records + spec.records / 8; i++)
    if (!(*db)->Put(IdFor(i), VectorFor(i, spec.dim), MetadataFor(i)).ok()) return nullptr;
  if (spec.delete_every && spec.records > 4 && !(*db)->Delete(IdFor(4)).ok()) return nullptr;
  return std::move(*db);
}

// A closed database at path; true on success.
inline bool MakeClosedDb(const std::string& path, const DbSpec& spec = {}) {
  auto db = Build(path, spec);
  return db && db->Close().ok();
}

inline std::string ReadAll(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(f), {});
}

inline void WriteAll(const std::string& path, const std::string& bytes) {
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  f.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

inline uint8_t GetByte(const std::string& path, uint64_t off) {
  int fd = ::open(path.c_str(), O_RDONLY);
  uint8_t b = 0;
  if (fd >= 0) {
    (void)!::pread(fd, &b, 1, static_cast<off_t>(off));
    ::close(fd);
  }
  return b;
}

inline void SetByte(const std::string& path, uint64_t off, uint8_t v) {
  int fd = ::open(path.c_str(), O_WRONLY);
  if (fd >= 0) {
    (void)!::pwrite(fd, &v, 1, static_cast<off_t>(off));
    ::close(fd);
  }
}

// Adds delta to the byte at off.
inline void IncrementByte(const std::string& path, uint64_t off, int delta = 1) {
  SetByte(path, off, static_cast<uint8_t>(GetByte(path, off) + delta));
}

inline void PutU64At(const std::string& path, uint64_t off, uint64_t v) {
  uint8_t b[8];
  format::PutU64(b, v);
  for (int i = 0; i < 8; i++) SetByte(path, off + i, b[i]);
}

inline void ShrinkSize(const std::string& path, uint64_t bytes) {
  auto size = std::filesystem::file_size(path);
  std::filesystem::resize_file(path, size > bytes ? size - bytes : 0);
}

inline std::string ReadPage(const std::string& path, uint64_t pgno) {
  std::string all = ReadAll(path);
  return all.substr(pgno * format::kPageSize, format::kPageSize);
}

inline format::FileHeader Header(const std::string& path) {
  format::FileHeader h;
  std::string p = ReadPage(path, 0);
  (void)format::DecodeHeader(reinterpret_cast<const uint8_t*>(p.data()), &h);
  return h;
}

// Recomputes the trailer of sealed page pgno after a deliberate edit, so only
// the logical damage remains.
inline void FixSealedChecksum(const std::string& path, uint64_t pgno) {
  std::string page = ReadPage(path, pgno);
  format::FileHeader h = Header(path);
  format::SealPage(reinterpret_cast<uint8_t*>(page.data()), pgno, format::UuidSeed(h.uuid));
  for (uint32_t i = format::kPagePayload; i < format::kPageSize; i++)
    SetByte(path, pgno * format::kPageSize + i, static_cast<uint8_t>(page[i]));
}

// Recomputes the checksum of meta page pgno (1 or 2).
inline void FixMetaChecksum(const std::string& path, uint64_t pgno) {
  std::string page = ReadPage(path, pgno);
  format::FileHeader h = Header(path);
  uint64_t c = format::Checksum64(page.data(), format::kMetaOffChecksum, format::UuidSeed(h.uuid) ^ pgno);
  PutU64At(path, pgno * format::kPageSize + format::kMetaOffChecksum, c);
}

inline void FixHeaderChecksum(const std::string& path) {
  std::string page = ReadPage(path, 0);
  PutU64At(path, format::kHeaderOffChecksum, format::Checksum64(page.data(), format::kHeaderOffChecksum, 0));
}

}  // namespace vdb::checktest
