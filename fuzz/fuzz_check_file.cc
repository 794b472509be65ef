// Fuzzes the whole-file checker (vdbcheck) and, through its verdict, the
// engine's open path. Input (a sparse database image, so seeds stay small):
//   "VDBZ" | u32 file_pages | u8 flags (bit 0: a WAL follows) | u16 n |
//   n x (u32 pgno | 4096 page bytes) | WAL bytes (the rest)
// Pages not listed are zero; file_pages is capped at 4096 (16 MiB, sparse).
// Invariants: the check never crashes or hangs; its report renders; and
// whatever the check accepts, open accepts: the database opens, serves an
// exact search over all its records, closes, and then checks clean again
// with the same number of live records.
#include <fcntl.h>
#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <string>
#include <vector>

#include "format/coding.h"
#include "recovery/checker.h"
#include "vdb/db.h"

namespace {

const std::string& Dir() {
  static std::string dir = [] {
    std::string t = (std::filesystem::temp_directory_path() / "vdbfuzz.XXXXXX").string();
    char* p = ::mkdtemp(t.data());
    if (!p) std::abort();
    return t;
  }();
  return dir;
}

bool WriteImage(const uint8_t* data, size_t size, const std::string& path) {
  if (size < 11 || std::memcmp(data, "VDBZ", 4) != 0) return false;
  uint32_t pages = std::min<uint32_t>(vdb::format::GetU32(data + 4), 4096);
  uint8_t flags = data[8];
  uint16_t n = vdb::format::GetU16(data + 9);
  size_t pos = 11;
  int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_TRUNC, 0644);
  if (fd < 0) std::abort();
  if (::ftruncate(fd, static_cast<off_t>(pages) * 4096) != 0) std::abort();
  for (uint16_t i = 0; i < n && size - pos >= 4 + 4096; i++) {
    uint32_t pgno = vdb::format::GetU32(data + pos);
    if (pgno < pages && ::pwrite(fd, data + pos + 4, 4096, static_cast<off_t>(pgno) * 4096) != 4096) std::abort();
    pos += 4 + 4096;
  }
  ::close(fd);
  if (flags & 1) {
    int w = ::open((path + "-wal").c_str(), O_RDWR | O_CREAT | O_TRUNC, 0644);
    if (w < 0) std::abort();
    if (size > pos && ::write(w, data + pos, size - pos) != static_cast<ssize_t>(size - pos)) std::abort();
    ::close(w);
  }
  return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string path = Dir() + "/f.vdb";
  std::filesystem::remove(path);
  std::filesystem::remove(path + "-wal");
  if (!WriteImage(data, size, path)) return 0;
  vdb::recovery::CheckReport r = vdb::recovery::CheckFile(path);
  int code = r.ExitCode();
  if (code < 0 || code > 2) std::abort();
  if (r.ToText().empty() || r.ToJson().empty()) std::abort();
  if (r.consistent() != (code == 0)) std::abort();
  if (r.consistent()) {
    auto db = vdb::Database::Open(path, {});
    if (!db.ok()) {
      std::fprintf(stderr, "check accepted, open refused: %s\n%s", db.status().ToString().c_str(),
                   r.ToText().c_str());
      std::abort();
    }
    vdb::Stats st = (*db)->GetStats();
    if (st.count != r.stats.live_records) std::abort();
    if (st.count > 0) {
      std::vector<float> q(st.dim, 0.5f);
      vdb::SearchOptions so;
      so.k = st.count;
      so.exact = true;
      auto hits = (*db)->Search(q, so);
      if (!hits.ok() || hits->size() != st.count) {
        std::fprintf(stderr, "search of a checked-clean file failed: %s\n",
                     hits.ok() ? "wrong hit count" : hits.status().ToString().c_str());
        std::abort();
      }
    }
    if (!(*db)->Close().ok()) std::abort();
    vdb::recovery::CheckReport again = vdb::recovery::CheckFile(path);
    if (!again.consistent() || again.stats.live_records != r.stats.live_records) {
      std::fprintf(stderr, "clean file no longer checks clean after open/close:\n%s", again.ToText().c_str());
      std::abort();
    }
  }
  std::filesystem::remove(path);
  std::filesystem::remove(path + "-wal");
  return 0;
}
