#include "tools/lib/check_repair.h"

#include <fcntl.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <unordered_set>

#include "vdb/db.h"

namespace vdb::tools {

namespace {

bool Exists(const std::string& p) {
  std::error_code ec;
  return std::filesystem::exists(p, ec);
}

Status SyncDirOf(const std::string& path) {
  std::string dir = DirName(path);
  int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return Status::FromErrno(errno, "open directory " + dir);
  int rc = ::fsync(fd);
  int err = errno;
  ::close(fd);
  return rc == 0 ? Status::Ok() : Status::FromErrno(err, "fsync directory " + dir);
}

Status Rename(const std::string& from, const std::string& to) {
  if (std::rename(from.c_str(), to.c_str()) != 0) return Status::FromErrno(errno, "rename " + from + " to " + to);
  return Status::Ok();
}

// Writes the salvaged records of input into a new database at out.
Status WriteRepaired(const std::string& input, const std::string& out, const RepairOptions& options,
                     RepairReport* rep) {
  recovery::SalvageOptions so;
  so.keep_unverified = options.keep_unverified;
  std::unique_ptr<Database> db;
  WriteBatch batch;
  std::unordered_set<std::string> ids;
  auto flush = [&]() -> Status {
    if (batch.empty()) return Status::Ok();
    Status s = db->Write(batch);
    batch.Clear();
    return s;
  };
  auto sink = [&](recovery::SalvagedRecord&& r) -> Status {
    if (!db) return Status::InvalidArgument("no output database");
    if (!ids.insert(r.id).second) {
      rep->duplicate_ids++;
      VDB_RETURN_IF_ERROR(flush());  // the later slot wins, in order
    }
    batch.Put(std::move(r.id), std::move(r.vector), std::move(r.metadata_json));
    rep->written = ids.size();
    if (batch.size() >= options.batch) return flush();
    return Status::Ok();
  };
  // The header comes first: salvage reports it before any record. Peek at it
  // with a dry run that stops at once.
  recovery::SalvageSummary peek;
  Status first = recovery::SalvageRecords(
      input, so, [](recovery::SalvagedRecord&&) { return Status::Busy("header only"); }, &peek);
  if (!first.ok() && !first.IsBusy()) return first;
  if (!peek.header_ok) return Status::Corruption("the header is unusable; dimension and metric are unknown");
  CreateOptions co;
  co.dim = peek.header.dim;
  co.metric = static_cast<Metric>(peek.header.metric);
  co.hnsw_m = peek.header.hnsw_m;
  co.hnsw_ef_construction = peek.header.hnsw_ef_construction;
  co.hnsw_seed = peek.header.hnsw_seed;
  OpenOptions oo;
  oo.sync = SyncMode::kNone;  // Close() checkpoints and syncs everything
  VDB_ASSIGN_OR_RETURN(db, Database::Create(out, co, oo));
  Status s = recovery::SalvageRecords(input, so, sink, &rep->salvage);
  if (s.ok()) s = flush();
  if (s.ok() && !rep->salvage.model_identity.empty()) s = db->SetEmbeddingModel(rep->salvage.model_identity);
  Status c = db->Close();
  if (s.ok()) s = c;
  return s;
}

}  // namespace

int RepairReport::ExitCode() const {
  if (!status.ok() || !after.consistent()) return 2;
  return salvage.lost > 0 || salvage.slots_scanned < salvage.slots_in_use ? 1 : 0;
}

RepairReport RepairFile(const std::string& input, const std::string& output, const RepairOptions& options) {
  RepairReport rep;
  rep.input = input;
  rep.before = recovery::CheckFile(input);
  if (!rep.before.status.ok() && !rep.before.status.IsCorruption()) {
    rep.status = rep.before.status;
    return rep;
  }
  rep.output = options.in_place ? input + ".repair-tmp" : output;
  if (Exists(rep.output)) {
    rep.status = Status::InvalidArgument(rep.output + " already exists; choose a new output path");
    return rep;
  }
  if (options.in_place) {
    rep.backup = options.backup_path.empty() ? input + ".bak" : options.backup_path;
    if (Exists(rep.backup) || Exists(rep.backup + "-wal")) {
      rep.status = Status::InvalidArgument("backup path " + rep.backup + " already exists");
      return rep;
    }
  }
  rep.status = WriteRepaired(input, rep.output, options, &rep);
  if (rep.status.ok()) {
    rep.after = recovery::CheckFile(rep.output);
    if (!rep.after.consistent())
      rep.status = Status::Corruption("the repaired file does not check clean: " + rep.after.Summary());
  }
  if (!rep.status.ok()) {
    std::error_code ec;
    std::filesystem::remove(rep.output, ec);
    std::filesystem::remove(rep.output + "-wal", ec);
    return rep;
  }
  if (options.in_place) {
    // Original (and WAL) to the backup, then the repaired file into place.
    Status s = Rename(input, rep.backup);
    if (s.ok() && Exists(input + "-wal")) s = Rename(input + "-wal", rep.backup + "-wal");
    if (s.ok()) s = Rename(rep.output, input);
    if (s.ok()) s = SyncDirOf(input);
    if (!s.ok()) {
      rep.status = s.WithContext("in-place repair (the original is at " + rep.backup + ")");
      return rep;
    }
    rep.output = input;
    rep.after.path = input;
  }
  return rep;
}

std::string RepairReport::ToText() const {
  std::string out = "repair of " + input + "\n";
  out += "before: " + before.Summary() + "\n";
  const auto& s = salvage;
  if (s.header_ok) {
    out += "source: meta page " + std::to_string(s.meta_page_used) + (s.meta_checksum_ok ? "" : " (checksum failing)") +
           (s.wal_applied ? ", plus " + std::to_string(s.wal_commits) + " WAL commits" : "") + "\n";
    out += "saved " + std::to_string(s.saved) + " of " + std::to_string(s.live_seen) + " live records" +
           (s.saved_unverified ? " (" + std::to_string(s.saved_unverified) + " unverified)" : "") + "; lost " +
           std::to_string(s.lost) + "\n";
    for (const auto& d : s.lost_detail) out += "  lost: " + d + "\n";
    if (duplicate_ids) out += "  " + std::to_string(duplicate_ids) + " ids appeared in more than one slot; the later slot was kept\n";
    if (!s.model_identity.empty()) out += "embedding model identity kept\n";
  }
  if (!status.ok()) {
    out += "repair FAILED: " + status.ToString() + " (the input is unchanged)\n";
    return out;
  }
  out += "wrote " + output + " with " + std::to_string(written) + " records" +
         (backup.empty() ? "" : "; the original is at " + backup) + "\n";
  out += "after: " + after.Summary() + "\n";
  return out;
}

std::string RepairReport::ToJson() const {
  nlohmann::json j;
  j["input"] = input;
  j["output"] = output;
  j["backup"] = backup;
  j["status"] = status.ok() ? "ok" : status.ToString();
  j["exit_code"] = ExitCode();
  j["before"] = nlohmann::json::parse(before.ToJson(), nullptr, false);
  j["after"] = status.ok() ? nlohmann::json::parse(after.ToJson(), nullptr, false) : nlohmann::json();
  nlohmann::json s;
  s["meta_page_used"] = salvage.meta_page_used;
  s["meta_checksum_ok"] = salvage.meta_checksum_ok;
  s["wal_commits_applied"] = salvage.wal_commits;
  s["slots_in_use"] = salvage.slots_in_use;
  s["slots_scanned"] = salvage.slots_scanned;
  s["live_seen"] = salvage.live_seen;
  s["saved"] = salvage.saved;
  s["saved_unverified"] = salvage.saved_unverified;
  s["lost"] = salvage.lost;
  s["lost_detail"] = salvage.lost_detail;
  s["duplicate_ids"] = duplicate_ids;
  s["written"] = written;
  j["salvage"] = std::move(s);
  return j.dump(2, ' ', false, nlohmann::json::error_handler_t::replace);
}

}  // namespace vdb::tools
