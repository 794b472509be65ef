// The WAL part of the check: what replay will do, and damage in the log.
#include <algorithm>
#include <cstring>

#include "format/coding.h"
#include "format/wal_format.h"
#include "recovery/check_internal.h"
#include "recovery/replay.h"
#include "recovery/wal_reader.h"

namespace vdb::recovery::check {

using namespace vdb::format;

namespace {

Finding WalFinding(Severity sev, std::string code, std::string message, int64_t offset) {
  Finding f;
  f.severity = sev;
  f.code = std::move(code);
  f.structure = "WAL";
  f.file = "wal";
  f.offset = offset;
  f.message = std::move(message);
  return f;
}

// Counts records with a good checksum under `seed` and a commit sequence
// above `after` that lie in [from, size) of the WAL, found by scanning for the
// record magic at every byte. Such records after the point where replay stops
// are commits replay will never apply.
Status ScanForLaterRecords(File* wal, uint64_t from, uint64_t size, uint64_t seed, uint64_t after, uint64_t* count,
                           uint64_t* first_off, uint64_t* first_seq) {
  *count = 0;
  constexpr size_t kWindow = 1 << 20;
  std::string buf(kWindow + kWalRecordHeaderSize, '\0');
  std::string payload;
  uint8_t magic[4];
  PutU32(magic, kWalRecordMagic);
  uint64_t off = from;
  // Payload reads of candidate records are bounded (a log full of fake
  // headers must not make the scan quadratic): past the budget, stop.
  uint64_t budget = 2 * size + (16u << 20);
  while (off + kWalRecordHeaderSize <= size) {
    size_t want = static_cast<size_t>(std::min<uint64_t>(buf.size(), size - off));
    size_t got = 0;
    VDB_RETURN_IF_ERROR(wal->Read(off, buf.data(), want, &got));
    if (got < kWalRecordHeaderSize) break;
    const uint8_t* b = reinterpret_cast<const uint8_t*>(buf.data());
    size_t limit = got - kWalRecordHeaderSize + 1;  // candidate starts in this window
    size_t next_skip = std::min(limit, kWindow);
    for (size_t i = 0; i < next_skip;) {
      const void* hit = std::memchr(b + i, magic[0], next_skip - i);
      if (!hit) break;
      i = static_cast<size_t>(static_cast<const uint8_t*>(hit) - b);
      if (std::memcmp(b + i, magic, 4) == 0) {
        WalRecordHeader h;
        if (DecodeWalRecordHeader(b + i, &h).ok() && h.commit_seq > after &&
            size - (off + i + kWalRecordHeaderSize) >= h.payload_len) {
          if (h.payload_len > budget) return Status::Ok();
          budget -= h.payload_len;
          payload.resize(h.payload_len);
          size_t pg = 0;
          VDB_RETURN_IF_ERROR(wal->Read(off + i + kWalRecordHeaderSize, payload.data(), h.payload_len, &pg));
          if (pg == h.payload_len && WalRecordChecksumOk(b + i, payload, seed)) {
            if (*count == 0) {
              *first_off = off + i;
              *first_seq = h.commit_seq;
            }
            (*count)++;
          }
        }
      }
      i++;
    }
    off += next_skip;
  }
  return Status::Ok();
}

}  // namespace

Status CheckWal(Context* ctx, File* wal, const MetaPage& meta, MetaBody* body, bool* replay_fails) {
  ReplayPlan& plan = ctx->report_->replay;
  *replay_fails = false;
  *body = meta.body;
  auto rr = ReplayWal(wal, nullptr, ctx->header, meta);
  if (!rr.ok()) {
    if (!rr.status().IsCorruption()) return rr.status();
    const std::string& msg = rr.status().message();
    const char* code = msg.find("different database") != std::string::npos ? "wal.foreign"
                       : msg.find("WAL generation") != std::string::npos  ? "wal.generation"
                                                                           : "wal.content";
    ctx->Report(WalFinding(Severity::kDamage, code, msg + "; open refuses this WAL", -1));
    *replay_fails = true;
    plan.wal_present = true;
    plan.stop_reason = "replay fails: " + rr.status().message();
    return Status::Ok();
  }
  const ReplayResult& r = *rr;
  plan.wal_present = r.wal_present;
  plan.wal_header_ok = r.wal_header_ok;
  plan.wal_bytes = r.wal_bytes;
  plan.wal_generation = r.wal_generation;
  plan.commits = r.commits;
  plan.records = r.records;
  plan.first_commit_seq = r.commits > 0 ? meta.commit_seq + 1 : 0;
  plan.last_commit_seq = r.last_commit_seq;
  plan.valid_end = r.valid_end;
  plan.discarded_bytes = r.discarded_bytes;
  plan.stop_reason = r.stop_reason;
  if (!r.wal_present) return Status::Ok();

  const uint64_t seed = WalRecordSeed(ctx->header.uuid, meta.wal_generation);
  if (!r.wal_header_ok) {
    // Unreadable header: replay skips the log. That loses commits only if
    // the log holds records of the checkpoint's generation that follow it.
    uint64_t n = 0, first_off = 0, first_seq = 0;
    if (r.wal_bytes > kWalHeaderSize)
      VDB_RETURN_IF_ERROR(
          ScanForLaterRecords(wal, kWalHeaderSize, r.wal_bytes, seed, meta.commit_seq, &n, &first_off, &first_seq));
    if (n > 0)
      ctx->Report(WalFinding(Severity::kDamage, "wal.header",
                             "the WAL header is damaged (" + r.stop_reason + "), so replay skips " + Num(n) +
                                 " committed records that follow the checkpoint (first: commit " + Num(first_seq) +
                                 " at offset " + Num(first_off) + ")",
                             0));
    else
      ctx->Report(WalFinding(Severity::kWarning, "wal.header_unreadable",
                             "the WAL header is unreadable (a log being created when the process stopped); it holds "
                             "nothing to replay",
                             0));
    return Status::Ok();
  }
  // An older log: the checkpoint that started the meta page's generation made
  // the main file durable first, so everything in it is already there. (A
  // newer one is refused by replay: reported above as wal.generation.)
  if (r.wal_generation != meta.wal_generation) return Status::Ok();

  // Where replay stops: a commit-sequence gap under a good checksum is damage;
  // complete records past a torn one are commits never made durable, or
  // commits lost to damage in the log (a warning: the log alone cannot tell).
  if (r.stop_reason.find("has commit") != std::string::npos) {
    Finding f = WalFinding(Severity::kDamage, "wal.sequence",
                           "replay stops at a record with an unexpected commit sequence: " + r.stop_reason,
                           static_cast<int64_t>(r.valid_end));
    ctx->Report(std::move(f));
  } else if (r.discarded_bytes > 0) {
    uint64_t n = 0, first_off = 0, first_seq = 0;
    VDB_RETURN_IF_ERROR(
        ScanForLaterRecords(wal, r.valid_end, r.wal_bytes, seed, r.last_commit_seq, &n, &first_off, &first_seq));
    if (n > 0) {
      ctx->Report(WalFinding(Severity::kWarning, "wal.records_after_tear",
                             Num(n) + " intact records of later commits (first: commit " + Num(first_seq) +
                                 " at offset " + Num(first_off) + ") follow the point where replay stops (" +
                                 r.stop_reason + "); replay discards them",
                             static_cast<int64_t>(r.valid_end)));
    }
  }

  if (r.commits > 0) {
    const uint64_t prev_seed = WalRecordSeed(ctx->header.uuid, meta.wal_generation - 1);
    VDB_RETURN_IF_ERROR(ctx->image->IndexWal(r.records, seed, prev_seed, r.valid_end));
    plan.page_images = ctx->image->wal_page_images();
    plan.vector_bytes = ctx->image->wal_vector_bytes();
    plan.delta_bytes = ctx->image->wal_delta_bytes();
    *body = r.body;
  }
  return Status::Ok();
}

}  // namespace vdb::recovery::check
