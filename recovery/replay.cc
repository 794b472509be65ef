#include "recovery/replay.h"

#include <cstring>
#include <vector>

#include "format/constants.h"
#include "format/wal_format.h"
#include "recovery/wal_reader.h"

namespace vdb::recovery {

using namespace vdb::format;

namespace {

// Checks one record's entries against the state it follows; on success
// *body holds the record's meta body if it carried one.
Status CheckEntries(const WalRecord& r, bool first, const MetaBody& before, MetaBody* body, bool* has_meta) {
  std::string at = "WAL record at offset " + std::to_string(r.offset) + " (commit " +
                   std::to_string(r.header.commit_seq) + ")";
  WalEntryReader er(r.payload);
  WalEntry e;
  *has_meta = false;
  MetaBody mb = before;
  std::vector<WalEntry> entries;
  while (er.Next(&e)) {
    if (e.type == kWalEntryMeta) {
      VDB_RETURN_IF_ERROR(DecodeMetaBody(reinterpret_cast<const uint8_t*>(e.data.data()), &mb).WithContext(at));
      *has_meta = true;
    }
    entries.push_back(e);
  }
  if (!er.status().ok()) return er.status().WithContext(at);
  // The first record of a commit carries the commit's meta body (so every
  // later record's entries can be checked against the final extents).
  if (first != *has_meta)
    return Status::Corruption(at + (first ? ": first record of a commit without meta entry" : ": meta entry after the first record"));
  uint64_t limit = mb.page_count * kPageSize;
  for (const auto& x : entries) {
    if (x.type == kWalEntryPage && (x.where < kFirstDataPage || (x.where + 1) * kPageSize > limit))
      return Status::Corruption(at + ": page entry for page " + std::to_string(x.where) + " outside the file");
    if (x.type == kWalEntryBytes &&
        (x.where < kFirstDataPage * kPageSize || x.where + x.data.size() > limit || x.data.empty()))
      return Status::Corruption(at + ": bytes entry at offset " + std::to_string(x.where) + " outside the file");
  }
  *body = mb;
  return Status::Ok();
}

Status ApplyRecord(const WalRecord& r, File* main, ReplayResult* out) {
  WalEntryReader er(r.payload);
  WalEntry e;
  std::vector<WriteOp> ops;
  while (er.Next(&e)) {
    if (e.type == kWalEntryPage) {
      ops.push_back({e.where * kPageSize, e.data.data(), e.data.size()});
      out->pages_written++;
    } else if (e.type == kWalEntryBytes) {
      ops.push_back({e.where, e.data.data(), e.data.size()});
      out->bytes_written += e.data.size();
    }
  }
  return main->Write(ops);
}

}  // namespace

Result<ReplayResult> ReplayWal(File* wal, File* main, const FileHeader& header, const MetaPage& meta) {
  ReplayResult res;
  res.body = meta.body;
  res.last_commit_seq = meta.commit_seq;
  if (wal == nullptr) {
    res.stop_reason = "no WAL file";
    return res;
  }
  res.wal_present = true;
  VDB_ASSIGN_OR_RETURN(uint64_t size, wal->Size());
  res.wal_bytes = size;
  uint8_t hbuf[kWalHeaderUsedBytes];
  size_t got = 0;
  VDB_RETURN_IF_ERROR(wal->Read(0, hbuf, sizeof(hbuf), &got));
  WalHeader wh;
  Status hs = DecodeWalHeader(hbuf, got, &wh);
  if (hs.IsNotSupported()) return hs;
  if (!hs.ok()) {
    // A header torn while a checkpoint was starting a new generation, or a
    // log created but never written: the meta page covers everything an
    // older log held, and no commit of the current generation can be durable
    // without the header (the header is synced with the first commit).
    res.stop_reason = "WAL header unreadable (" + hs.message() + "); nothing to replay";
    res.discarded_bytes = size;
    return res;
  }
  res.wal_header_ok = true;
  res.wal_generation = wh.generation;
  if (std::memcmp(wh.uuid, header.uuid, 16) != 0)
    return Status::Corruption("WAL belongs to a different database (file id mismatch)");
  if (wh.generation > meta.wal_generation)
    return Status::Corruption("WAL generation " + std::to_string(wh.generation) + " is newer than the checkpoint's (" +
                              std::to_string(meta.wal_generation) + "): the meta pages are older than the log; run vdbcheck");
  if (wh.generation < meta.wal_generation) {
    // The checkpoint that started generation meta.wal_generation made the
    // main file durable first: everything an older log holds is in it.
    res.stop_reason = "WAL generation " + std::to_string(wh.generation) + " precedes checkpoint generation " +
                      std::to_string(meta.wal_generation) + "; nothing to replay";
    res.discarded_bytes = size > kWalHeaderSize ? size - kWalHeaderSize : 0;
    return res;
  }

  // Pass 1: find the end of the last complete commit.
  uint64_t seed = WalRecordSeed(header.uuid, wh.generation);
  uint64_t prev_seed = WalRecordSeed(header.uuid, wh.generation - 1);
  WalReader reader(wal, size, seed, prev_seed);
  WalRecord rec;
  uint64_t expect = meta.commit_seq + 1;
  bool in_commit = false;
  MetaBody cur = meta.body, pending = meta.body;
  uint64_t end = kWalHeaderSize, commits = 0, records = 0, records_done = 0;
  std::string stop;
  while (reader.Next(&rec)) {
    if (rec.header.commit_seq != expect) {
      stop = "record at offset " + std::to_string(rec.offset) + " has commit " + std::to_string(rec.header.commit_seq) +
             ", expected " + std::to_string(expect);
      break;
    }
    MetaBody after;
    bool has_meta = false;
    VDB_RETURN_IF_ERROR(CheckEntries(rec, !in_commit, pending, &after, &has_meta));
    pending = after;
    records++;
    in_commit = true;
    if (rec.header.flags & kWalFlagCommitEnd) {
      cur = pending;
      commits++;
      records_done = records;
      expect++;
      in_commit = false;
      end = reader.offset();
    }
  }
  if (!reader.io_status().ok()) return reader.io_status();
  if (stop.empty()) stop = reader.stop_reason();
  if (in_commit) stop = "incomplete commit " + std::to_string(expect) + " dropped (" + stop + ")";
  res.commits = commits;
  res.records = records_done;
  res.last_commit_seq = meta.commit_seq + commits;
  res.valid_end = end;
  res.discarded_bytes = size > end ? size - end : 0;
  res.stop_reason = stop;
  res.body = cur;
  if (main == nullptr || commits == 0) return res;

  // Pass 2: redo, in log order, every record of the complete commits.
  VDB_ASSIGN_OR_RETURN(uint64_t main_size, main->Size());
  if (main_size < cur.page_count * kPageSize)
    VDB_RETURN_IF_ERROR(main->Allocate(main_size, cur.page_count * kPageSize - main_size));
  WalReader again(wal, end, seed, prev_seed);
  for (uint64_t i = 0; i < records_done; i++) {
    if (!again.Next(&rec)) {
      if (!again.io_status().ok()) return again.io_status();
      return Status::IOError("WAL changed while being replayed: " + again.stop_reason());
    }
    VDB_RETURN_IF_ERROR(ApplyRecord(rec, main, &res));
  }
  return res;
}

}  // namespace vdb::recovery
