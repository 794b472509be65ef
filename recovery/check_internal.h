// Shared state of one CheckFile run; internal to recovery/check_*.cc.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "format/header.h"
#include "format/meta.h"
#include "format/pages.h"
#include "recovery/check_image.h"
#include "recovery/checker.h"

namespace vdb::recovery::check {

std::string Hex(uint64_t v);
std::string Num(uint64_t v);

// The record check of a slot: low 32 bits of XXH3-64 of vector bytes, id and
// stored metadata, seeded with the slot number (docs/format.md#slot-records).
uint32_t RecordCheck(uint32_t slot, const uint8_t* vec, size_t vec_bytes, std::string_view id, std::string_view meta);

// Per-slot facts gathered by the slot pass, used by the id-map and free-list
// passes. Invariant: slot_hash.size() == slot_flags.size() == walkable slots.
enum SlotFlag : uint8_t {
  kFlagLive = 1,
  kFlagFree = 2,
  kFlagDeleted = 4,
  kFlagReferenced = 8,  // an id-map entry points here
  kFlagOnChain = 16,    // reached by the free-list walk
  kFlagIdKnown = 32,    // slot_hash holds IdHash of the slot's id
  kFlagUnindexed = 128, // on the unindexed list (set by the graph pass; 64 is its own)
};

class Context {
 public:
  Context(CheckReport* report, const CheckOptions& options) : report_(report), options_(options) {}

  void Report(Finding f);
  void Damage(std::string code, std::string structure, std::string message, int64_t page = -1, int64_t offset = -1,
              int64_t slot = -1, std::string expected = "", std::string found = "");
  void Warn(std::string code, std::string structure, std::string message, int64_t page = -1, int64_t offset = -1,
            int64_t slot = -1);

  // Verifies the checksum of sealed page pgno once (later calls return the
  // cached verdict); reports "page.checksum" or "page.past_end" on failure,
  // naming `structure`. False on failure or I/O error (*io set).
  bool VerifySealed(uint64_t pgno, const std::string& structure, Status* io);

  // Reads a blob of the heap at ref (len bytes), verifying every page it
  // touches. Returns false (after reporting under `code`) when the reference
  // is impossible or a page fails; *io is set on I/O errors.
  bool ReadBlob(uint64_t ref, uint64_t len, const std::string& structure, int64_t slot, const std::string& code,
                std::string* out, Status* io);

  CheckReport* report_;
  const CheckOptions& options_;
  DbImage* image = nullptr;
  format::FileHeader header;
  uint64_t uuid_seed = 0;
  format::MetaBody body;
  uint64_t walkable_slots = 0;  // slots [0, walkable_slots) have records the passes can read
  bool idmap_usable = false;    // the id map's pages lie inside the file
  std::vector<uint64_t> slot_hash;
  std::vector<uint8_t> slot_flags;

 private:
  // Page verdicts: 0 unknown, 1 good, 2 bad. Dense for small files.
  uint8_t Verdict(uint64_t pgno) const;
  void SetVerdict(uint64_t pgno, uint8_t v);
  std::vector<uint8_t> dense_;                  // pages below the main file's end
  std::unordered_map<uint64_t, uint8_t> sparse_;  // pages past it (bounded by the pages a walk visits)
};

// The passes, in order. Each reports findings; a non-OK status is an I/O
// error that stops the check.
Status CheckLayout(Context* ctx);     // extents, id map and heap locations vs the file
Status CheckSlots(Context* ctx);      // slot records, ids, metadata, vectors, record checks
Status CheckIdMap(Context* ctx);      // id map <-> live slots
Status CheckFreeList(Context* ctx);   // the free-slot chain and the counts
Status CheckGraph(Context* ctx);      // HNSW roots and graph pages

// The WAL: what replay will do (fills report->replay), and damage in the log
// itself. On return *body is the state replay produces and the image has the
// WAL's entries overlaid; *replay_fails is set when open would refuse the WAL.
Status CheckWal(Context* ctx, File* wal, const format::MetaPage& meta, format::MetaBody* body, bool* replay_fails);

}  // namespace vdb::recovery::check
