// CheckReport as text and JSON. See docs/vdbcheck.md#output.
#include <nlohmann/json.hpp>

#include "recovery/check_internal.h"
#include "recovery/checker.h"

namespace vdb::recovery {

using check::Num;

namespace {

std::string Where(const Finding& f) {
  std::string w = f.structure;
  std::string extra;
  auto add = [&](const std::string& s) { extra += (extra.empty() ? "" : ", ") + s; };
  if (f.file == "wal") add("WAL");
  if (f.page >= 0) add("page " + Num(static_cast<uint64_t>(f.page)));
  if (f.offset >= 0) add("offset " + Num(static_cast<uint64_t>(f.offset)));
  if (f.slot >= 0) add("slot " + Num(static_cast<uint64_t>(f.slot)));
  if (!extra.empty()) w += " (" + extra + ")";
  return w;
}

std::string ReplayText(const ReplayPlan& p) {
  if (!p.wal_present) return "no WAL: nothing to replay";
  if (p.commits == 0)
    return "WAL present (" + Num(p.wal_bytes) + " bytes), nothing to replay: " + p.stop_reason;
  std::string s = "replay will apply " + Num(p.commits) + " commit" + (p.commits == 1 ? "" : "s") + " (" +
                  Num(p.first_commit_seq) + ".." + Num(p.last_commit_seq) + ", " + Num(p.records) + " records, " +
                  Num(p.page_images) + " page images, " + Num(p.delta_bytes) + " page delta bytes, " + Num(p.vector_bytes) +
                  " vector bytes)";
  if (p.discarded_bytes > 0) s += " and discard " + Num(p.discarded_bytes) + " bytes of WAL tail";
  s += "; stops at: " + p.stop_reason;
  return s;
}

}  // namespace

std::string CheckReport::Summary() const {
  std::string s = path + ": ";
  if (!status.ok()) return s + "could not check: " + status.ToString();
  if (damage_count > 0)
    s += "DAMAGED: " + Num(damage_count) + " problem" + (damage_count == 1 ? "" : "s");
  else
    s += "consistent";
  if (stats.body_ok) {
    s += "; " + Num(stats.live_records) + " live records, " + Num(stats.free_slots) + " free slots, " +
         Num(stats.body.page_count) + " pages";
  }
  if (warning_count > 0) s += "; " + Num(warning_count) + " warning" + (warning_count == 1 ? "" : "s");
  if (replay.commits > 0) s += "; " + Num(replay.commits) + " WAL commits to replay";
  return s;
}

std::string CheckReport::ToText() const {
  std::string out;
  for (const auto& f : findings) {
    out += std::string(SeverityName(f.severity)) + ": [" + f.code + "] " + Where(f) + ": " + f.message;
    if (!f.expected.empty() || !f.found.empty()) out += " (expected " + f.expected + ", found " + f.found + ")";
    out += "\n";
  }
  uint64_t shown = findings.size();
  if (damage_count + warning_count > shown)
    out += "... " + Num(damage_count + warning_count - shown) + " more findings not shown\n";
  if (status.ok() && stats.header_ok) out += "recovery: " + ReplayText(replay) + "\n";
  out += Summary() + "\n";
  return out;
}

std::string CheckReport::ToJson() const {
  nlohmann::json j;
  j["path"] = path;
  j["consistent"] = consistent();
  j["exit_code"] = ExitCode();
  j["status"] = status.ok() ? "ok" : status.ToString();
  j["damage_count"] = damage_count;
  j["warning_count"] = warning_count;
  nlohmann::json fs = nlohmann::json::array();
  for (const auto& f : findings) {
    nlohmann::json x;
    x["severity"] = SeverityName(f.severity);
    x["code"] = f.code;
    x["structure"] = f.structure;
    x["file"] = f.file;
    x["page"] = f.page;
    x["offset"] = f.offset;
    x["slot"] = f.slot;
    x["expected"] = f.expected;
    x["found"] = f.found;
    x["message"] = f.message;
    fs.push_back(std::move(x));
  }
  j["findings"] = std::move(fs);
  nlohmann::json r;
  r["wal_present"] = replay.wal_present;
  r["wal_header_ok"] = replay.wal_header_ok;
  r["wal_bytes"] = replay.wal_bytes;
  r["wal_generation"] = replay.wal_generation;
  r["commits"] = replay.commits;
  r["records"] = replay.records;
  r["first_commit_seq"] = replay.first_commit_seq;
  r["last_commit_seq"] = replay.last_commit_seq;
  r["page_images"] = replay.page_images;
  r["vector_bytes"] = replay.vector_bytes;
  r["delta_bytes"] = replay.delta_bytes;
  r["valid_end"] = replay.valid_end;
  r["discarded_bytes"] = replay.discarded_bytes;
  r["stop_reason"] = replay.stop_reason;
  r["summary"] = ReplayText(replay);
  j["replay"] = std::move(r);
  nlohmann::json s;
  s["file_bytes"] = stats.file_bytes;
  if (stats.header_ok) {
    s["dim"] = stats.header.dim;
    s["metric"] = stats.header.metric == 1 ? "cosine" : stats.header.metric == 2 ? "l2" : "dot";
    s["format_version"] = stats.header.format_version;
  }
  s["meta_page_used"] = stats.meta_page_used;
  s["meta_seq"] = stats.meta_seq;
  s["checkpoint_commit_seq"] = stats.checkpoint_commit_seq;
  if (stats.body_ok) {
    s["page_count"] = stats.body.page_count;
    s["slot_hwm"] = stats.body.slot_hwm;
    s["meta_live_count"] = stats.body.live_count;
  }
  s["slots_checked"] = stats.slots_checked;
  s["live_records"] = stats.live_records;
  s["free_slots"] = stats.free_slots;
  s["deleted_slots"] = stats.deleted_slots;
  s["records_verified"] = stats.records_verified;
  s["metadata_decoded"] = stats.metadata_decoded;
  s["sealed_pages_checked"] = stats.sealed_pages_checked;
  s["idmap_entries"] = stats.idmap_entries;
  s["free_chain_length"] = stats.free_chain_length;
  j["stats"] = std::move(s);
  j["summary"] = Summary();
  return j.dump(2, ' ', false, nlohmann::json::error_handler_t::replace);
}

}  // namespace vdb::recovery
