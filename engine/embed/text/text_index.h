// TextIndex: text in, text out. Puts records from text and searches by text
// through a Database whose vectors were all made by one embedding model.
//
// The model's identity (name, dimension, hash of its config and weights) is
// recorded in the database by the first Attach; later Attach calls with a
// different model are refused, so vectors from two models never mix.
//
//   auto emb = vdb::embed::Embedder::Load("all-MiniLM-L6-v2");
//   auto idx = vdb::embed::TextIndex::Attach(db.get(), emb->get());
//   idx->Put("fact-1", "Photosynthesis turns light into sugar.", R"({"topic":"biology"})");
//   auto hits = idx->Search("how do plants eat", {.k = 3});
#pragma once

#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "engine/embed/embedder.h"
#include "vdb/db.h"

namespace vdb::embed {

struct TextRecord {
  std::string id;
  std::string text;
  std::string metadata;  // "" or a JSON object
};

class TextIndex {
 public:
  // Both pointers are borrowed and must outlive the TextIndex. Fails when
  // the model's dimension differs from the database's, or when the database
  // records another model. With record_if_unset, a database with no model
  // recorded yet gets this one (a durable commit).
  static Result<TextIndex> Attach(Database* db, const Embedder* embedder, bool record_if_unset = true);

  Status Put(std::string_view id, std::string_view text, std::string_view metadata_json = "");
  // Embeds all texts (batched) and commits them in one transaction.
  Status PutBatch(std::span<const TextRecord> records);
  Result<std::vector<SearchHit>> Search(std::string_view text, const SearchOptions& options) const;

 private:
  TextIndex(Database* db, const Embedder* e) : db_(db), embedder_(e) {}
  Database* db_;
  const Embedder* embedder_;
};

// The identity as stored in a database: {"name", "dim", "hash"} JSON.
std::string IdentityJson(const ModelIdentity& id);
// Whether a stored identity names the same model (same dim and hash).
bool SameModelAs(std::string_view stored_json, const ModelIdentity& id);

}  // namespace vdb::embed
