// CheckFile: header, meta pages, WAL, then the passes over the state.
#include "recovery/checker.h"

#include <algorithm>
#include <cstring>
#include <memory>

#include "format/record_check.h"
#include "format/checksum.h"
#include "format/coding.h"
#include "format/constants.h"
#include "format/wal_format.h"
#include "recovery/check_image.h"
#include "recovery/check_internal.h"

namespace vdb::recovery {

using namespace vdb::format;

namespace check {

std::string Hex(uint64_t v) {
  static const char* digits = "0123456789abcdef";
  std::string s = "0x";
  bool started = false;
  for (int i = 60; i >= 0; i -= 4) {
    int d = static_cast<int>((v >> i) & 15);
    if (d || started || i == 0) {
      s.push_back(digits[d]);
      started = true;
    }
  }
  return s;
}

std::string Num(uint64_t v) { return std::to_string(v); }

uint32_t RecordCheck(uint32_t slot, const uint8_t* vec, size_t vec_bytes, std::string_view id, std::string_view meta) {
  return format::RecordCheck(slot, vec, vec_bytes, id, meta);
}

void Context::Report(Finding f) {
  if (f.severity == Severity::kDamage)
    report_->damage_count++;
  else
    report_->warning_count++;
  if (report_->findings.size() < options_.max_findings) report_->findings.push_back(std::move(f));
}

void Context::Damage(std::string code, std::string structure, std::string message, int64_t page, int64_t offset,
                     int64_t slot, std::string expected, std::string found) {
  Finding f;
  f.severity = Severity::kDamage;
  f.code = std::move(code);
  f.structure = std::move(structure);
  f.file = "main";
  f.page = page;
  f.offset = offset;
  f.slot = slot;
  f.expected = std::move(expected);
  f.found = std::move(found);
  f.message = std::move(message);
  Report(std::move(f));
}

void Context::Warn(std::string code, std::string structure, std::string message, int64_t page, int64_t offset,
                   int64_t slot) {
  Finding f;
  f.severity = Severity::kWarning;
  f.code = std::move(code);
  f.structure = std::move(structure);
  f.file = "main";
  f.page = page;
  f.offset = offset;
  f.slot = slot;
  f.message = std::move(message);
  Report(std::move(f));
}

uint8_t Context::Verdict(uint64_t pgno) const {
  if (pgno < dense_.size()) return dense_[pgno];
  auto it = sparse_.find(pgno);
  return it == sparse_.end() ? 0 : it->second;
}

void Context::SetVerdict(uint64_t pgno, uint8_t v) {
  if (dense_.empty() && image) dense_.assign(std::min(image->main_size() / kPageSize, body.page_count), 0);
  if (pgno < dense_.size())
    dense_[pgno] = v;
  else
    sparse_[pgno] = v;
}

bool Context::VerifySealed(uint64_t pgno, const std::string& structure, Status* io) {
  uint8_t v = Verdict(pgno);
  if (v != 0) return v == 1;
  const int64_t off = static_cast<int64_t>(pgno * kPageSize);
  if (pgno < kFirstDataPage || pgno >= body.page_count) {
    Damage("page.out_of_range", structure, "page " + Num(pgno) + " is outside the data pages [3, " +
                                               Num(body.page_count) + ")", static_cast<int64_t>(pgno), off);
    return false;
  }
  uint8_t page[kPageSize];
  ImageOrigin origin;
  Status s = image->ReadPage(pgno, page, &origin);
  if (!s.ok()) {
    *io = s;
    return false;
  }
  report_->stats.sealed_pages_checked++;
  bool ok = PageChecksumOk(page, pgno, uuid_seed);
  SetVerdict(pgno, ok ? 1 : 2);
  if (!ok) {
    if (origin.past_end) {
      Damage("page.past_end", structure,
             "page " + Num(pgno) + " lies past the end of the file (" + Num(image->main_size()) +
                 " bytes) and no WAL entry supplies it: the file is truncated",
             static_cast<int64_t>(pgno), off, -1, ">= " + Num((pgno + 1) * kPageSize) + " bytes",
             Num(image->main_size()) + " bytes");
    } else {
      Damage("page.checksum", structure,
             "page " + Num(pgno) + (origin.from_wal ? " (image from the WAL)" : "") + " fails its checksum",
             static_cast<int64_t>(pgno), off, -1,
             Hex(Checksum64(page, kPagePayload, uuid_seed ^ pgno)), Hex(GetU64(page + kPagePayload)));
    }
  }
  return ok;
}

bool Context::ReadBlob(uint64_t ref, uint64_t len, const std::string& structure, int64_t slot,
                       const std::string& code, std::string* out, Status* io) {
  out->clear();
  if (len == 0) return true;
  uint64_t pgno = ref / kPageSize;
  uint64_t in = ref % kPageSize;
  uint64_t pages = (in + len + kPagePayload - 1) / kPagePayload;
  if (in >= kPagePayload || pgno < kFirstDataPage || pgno >= body.page_count || pages > body.page_count - pgno) {
    Damage(code, structure,
           "blob reference " + Num(ref) + " (" + Num(len) + " bytes) does not lie inside the heap's page payloads",
           -1, -1, slot, "payload bytes of pages [3, " + Num(body.page_count) + ")", "offset " + Num(ref));
    return false;
  }
  for (uint64_t p = pgno; p < pgno + pages; p++) {
    if (!VerifySealed(p, structure + " blob", io)) return false;
  }
  out->resize(len);
  uint8_t page[kPageSize];
  size_t done = 0;
  while (done < len) {
    Status s = image->ReadPage(pgno, page);
    if (!s.ok()) {
      *io = s;
      return false;
    }
    size_t n = std::min<uint64_t>(len - done, kPagePayload - in);
    std::memcpy(out->data() + done, page + in, n);
    done += n;
    pgno++;
    in = 0;
  }
  return true;
}

namespace {

// Header page. Returns false if checking cannot go on.
bool CheckHeader(Context* ctx, const uint8_t* page, FileHeader* out) {
  CheckReport* r = ctx->report_;
  Status s = DecodeHeader(page, out);
  if (s.ok()) {
    for (uint32_t i = kHeaderUsedBytes; i < kHeaderOffChecksum; i++) {
      if (page[i] != 0) {
        ctx->Warn("header.reserved", "header page", "reserved header bytes are not zero", 0, i);
        break;
      }
    }
    return true;
  }
  if (s.IsNotSupported()) {
    // Not damage this build can judge: the file is from a newer vdb.
    bool version = s.message().find("version") != std::string::npos;
    Finding f;
    f.severity = Severity::kWarning;
    f.code = version ? "header.version" : "header.element_type";
    f.structure = "header page";
    f.file = "main";
    f.page = 0;
    f.offset = version ? kHeaderOffVersion : kHeaderOffElementType;
    f.expected = version ? "<= " + Num(kFormatVersion) : "1 (float32)";
    f.found = version ? Num(GetU32(page + kHeaderOffVersion)) : Num(page[kHeaderOffElementType]);
    f.message = s.message();
    ctx->Report(std::move(f));
    r->status = Status::NotSupported(s.message());
    return false;
  }
  if (std::memcmp(page + kHeaderOffMagic, kHeaderMagic, 8) != 0) {
    ctx->Damage("header.magic", "header page", "bad magic: this is not a vdb file", 0, 0, -1, "\"VDBFILE\\0\"",
                Hex(GetU64(page)));
    return false;
  }
  uint64_t want = Checksum64(page, kHeaderOffChecksum, 0);
  uint64_t have = GetU64(page + kHeaderOffChecksum);
  if (want != have) {
    ctx->Damage("header.checksum", "header page", "header page checksum mismatch", 0, kHeaderOffChecksum, -1,
                Hex(want), Hex(have));
    // Go on with the fields if they are plausible, for a fuller report.
    uint8_t copy[kPageSize];
    std::memcpy(copy, page, kPageSize);
    PutU64(copy + kHeaderOffChecksum, want);
    Status f = DecodeHeader(copy, out);
    if (f.ok()) return true;
    ctx->Damage("header.field", "header page", f.message(), 0, -1);
    return false;
  }
  ctx->Damage("header.field", "header page", s.message(), 0, -1);
  return false;
}

struct MetaVerdict {
  bool ok = false;
  bool structural = false;  // magic, file id and body fine; only the checksum fails
  MetaPage meta;
  Finding finding;          // the problem, reported once the WAL is known
};

MetaVerdict CheckMetaPage(const uint8_t* page, uint64_t pgno, const FileHeader& h) {
  MetaVerdict v;
  const std::string where = "meta page " + Num(pgno);
  Finding& f = v.finding;
  f.severity = Severity::kDamage;
  f.structure = where;
  f.file = "main";
  f.page = static_cast<int64_t>(pgno);
  f.offset = static_cast<int64_t>(pgno * kPageSize);
  if (std::memcmp(page + kMetaOffMagic, kMetaMagic, 8) != 0) {
    f.code = "meta.magic";
    f.message = where + " has a bad magic";
    f.expected = "\"VDBMETA\\0\"";
    f.found = Hex(GetU64(page));
    return v;
  }
  uint64_t want = Checksum64(page, kMetaOffChecksum, UuidSeed(h.uuid) ^ pgno);
  uint64_t have = GetU64(page + kMetaOffChecksum);
  if (std::memcmp(page + kMetaOffUuid, h.uuid, 16) != 0) {
    f.code = "meta.uuid";
    f.message = where + " belongs to another database (file id differs from the header's)";
    f.offset += kMetaOffUuid;
    return v;
  }
  MetaPage m;
  Status s = DecodeMetaPage(page, pgno, h.uuid, &m, /*verify_checksum=*/false);
  if (!s.ok()) {
    MetaBody unused;
    Status bs = DecodeMetaBody(page + kMetaOffBody, &unused);
    f.code = "meta.body";
    f.message = bs.ok() ? s.message() : bs.message();
    f.offset += kMetaOffBody;
    if (want != have) f.message += " (and the page checksum fails)";
    return v;
  }
  v.meta = m;
  if (want != have) {
    v.structural = true;
    f.code = "meta.checksum";
    f.message = where + " fails its checksum";
    f.offset += kMetaOffChecksum;
    f.expected = Hex(want);
    f.found = Hex(have);
    return v;
  }
  if (kMetaPageA + (m.meta_seq % 2) != pgno) {
    f.code = "meta.misplaced";
    f.message = where + " holds meta sequence " + Num(m.meta_seq) + ", which belongs on page " +
                Num(kMetaPageA + (m.meta_seq % 2));
    return v;
  }
  v.ok = true;
  return v;
}

Status RunCheck(const std::string& path, const CheckOptions& options, CheckReport* report) {
  Context ctx(report, options);
  VDB_ASSIGN_OR_RETURN(auto main, ReadOnlyFile::Open(path));
  VDB_ASSIGN_OR_RETURN(uint64_t size, main->Size());
  report->stats.file_bytes = size;
  if (size < kPageSize) {
    ctx.Damage("file.too_short", "file", "the file is " + Num(size) + " bytes: too short for a vdb header page", -1,
               -1, -1, ">= " + Num(3 * kPageSize) + " bytes", Num(size) + " bytes");
    return Status::Ok();
  }
  std::vector<uint8_t> head(3 * kPageSize, 0);
  size_t got = 0;
  VDB_RETURN_IF_ERROR(main->Read(0, head.data(), head.size(), &got));
  if (!CheckHeader(&ctx, head.data(), &ctx.header)) return Status::Ok();
  report->stats.header = ctx.header;
  report->stats.header_ok = true;
  ctx.uuid_seed = UuidSeed(ctx.header.uuid);
  if (size < 3 * kPageSize) {
    ctx.Damage("file.too_short", "file", "the file ends inside its meta pages", -1, static_cast<int64_t>(size), -1,
               ">= " + Num(3 * kPageSize) + " bytes", Num(size) + " bytes");
  }

  // Meta pages: pick like open does (the valid one with the higher sequence).
  MetaVerdict va = CheckMetaPage(head.data() + kPageSize, kMetaPageA, ctx.header);
  MetaVerdict vb = CheckMetaPage(head.data() + 2 * kPageSize, kMetaPageB, ctx.header);
  const MetaVerdict* chosen = nullptr;
  bool unverified = false;
  if (va.ok && vb.ok)
    chosen = va.meta.meta_seq > vb.meta.meta_seq ? &va : &vb;
  else if (va.ok || vb.ok)
    chosen = va.ok ? &va : &vb;
  else if (va.structural || vb.structural) {
    // Both fail their checksum; a structurally sound body still lets the
    // check (and salvage) go on.
    if (va.structural && vb.structural)
      chosen = va.meta.meta_seq > vb.meta.meta_seq ? &va : &vb;
    else
      chosen = va.structural ? &va : &vb;
    unverified = true;
  }

  std::string wal_path = options.wal_path.empty() ? path + "-wal" : options.wal_path;
  std::unique_ptr<ReadOnlyFile> wal;
  {
    auto w = ReadOnlyFile::Open(wal_path);
    if (w.ok())
      wal = std::move(*w);
    else if (!w.status().IsNotFound())
      return w.status();
  }

  // A meta page torn by an interrupted checkpoint (the WAL of the valid
  // page's generation is still there) is a normal crash state.
  bool torn_ok = false;
  if (chosen && !unverified && wal) {
    uint8_t hb[kWalHeaderUsedBytes];
    size_t n = 0;
    VDB_RETURN_IF_ERROR(wal->Read(0, hb, sizeof(hb), &n));
    WalHeader wh;
    torn_ok = DecodeWalHeader(hb, n, &wh).ok() && wh.generation == chosen->meta.wal_generation &&
              std::memcmp(wh.uuid, ctx.header.uuid, 16) == 0;
  }
  for (MetaVerdict* v : {&va, &vb}) {
    if (v->ok) continue;
    Finding f = v->finding;
    if (torn_ok && f.code != "meta.uuid") {
      f.severity = Severity::kWarning;
      f.message += " (left by a checkpoint interrupted while writing it: the other meta page and the WAL hold "
                   "every commit, and the next checkpoint rewrites this page)";
    }
    ctx.Report(std::move(f));
  }
  if (!chosen) {
    ctx.Damage("meta.none_valid", "meta pages", "neither meta page is valid: the database cannot be opened", 1,
               kPageSize);
    return Status::Ok();
  }
  if (unverified)
    ctx.Damage("meta.none_valid", "meta pages",
               "neither meta page passes its checksum; checking with meta page " +
                   Num(chosen == &va ? kMetaPageA : kMetaPageB) + " whose contents look sound",
               1, kPageSize);
  const MetaPage& meta = chosen->meta;
  report->stats.meta_page_used = chosen == &va ? 1 : 2;
  report->stats.meta_seq = meta.meta_seq;
  report->stats.checkpoint_commit_seq = meta.commit_seq;
  if (size < meta.body.page_count * kPageSize)
    ctx.Damage("file.truncated", "file",
               "the file is shorter than its checkpoint's " + Num(meta.body.page_count) + " pages", -1,
               static_cast<int64_t>(size), -1, ">= " + Num(meta.body.page_count * kPageSize) + " bytes",
               Num(size) + " bytes");

  DbImage image(main.get(), size, wal.get());
  ctx.image = &image;
  ctx.body = meta.body;
  bool replay_fails = false;
  VDB_RETURN_IF_ERROR(CheckWal(&ctx, wal.get(), meta, &ctx.body, &replay_fails));
  report->stats.body = ctx.body;
  report->stats.body_ok = true;

  VDB_RETURN_IF_ERROR(CheckLayout(&ctx));
  VDB_RETURN_IF_ERROR(CheckSlots(&ctx));
  VDB_RETURN_IF_ERROR(CheckIdMap(&ctx));
  VDB_RETURN_IF_ERROR(CheckFreeList(&ctx));
  VDB_RETURN_IF_ERROR(CheckGraph(&ctx));
  return Status::Ok();
}

}  // namespace
}  // namespace check

const char* SeverityName(Severity s) { return s == Severity::kDamage ? "damage" : "warning"; }

bool CheckReport::Has(const std::string& code) const {
  for (const auto& f : findings)
    if (f.code == code) return true;
  return false;
}

CheckReport CheckFile(const std::string& path, const CheckOptions& options) {
  CheckReport report;
  report.path = path;
  Status s = check::RunCheck(path, options, &report);
  if (!s.ok() && report.status.ok()) report.status = s;
  return report;
}

}  // namespace vdb::recovery
