#include "engine/embed/text/text_index.h"

#include <nlohmann/json.hpp>

namespace vdb::embed {

using nlohmann::json;

std::string IdentityJson(const ModelIdentity& id) {
  return json{{"name", id.name}, {"dim", id.dim}, {"hash", id.hash}}.dump();
}

bool SameModelAs(std::string_view stored_json, const ModelIdentity& id) {
  json r = json::parse(stored_json, nullptr, false);
  if (!r.is_object()) return false;
  return r.value("dim", json()) == json(id.dim) && r.value("hash", json()) == json(id.hash);
}

Result<TextIndex> TextIndex::Attach(Database* db, const Embedder* embedder, bool record_if_unset) {
  if (db == nullptr || embedder == nullptr) return Status::InvalidArgument("TextIndex needs a database and a model");
  ModelIdentity mine = embedder->identity();
  uint32_t dim = db->GetStats().dim;
  if (embedder->dim() != dim)
    return Status::InvalidArgument("model " + mine.ToString() + " makes " + std::to_string(embedder->dim()) +
                                   "-dimensional vectors; the database has dimension " + std::to_string(dim));
  VDB_ASSIGN_OR_RETURN(std::string recorded, db->EmbeddingModel());
  if (recorded.empty()) {
    if (record_if_unset) VDB_RETURN_IF_ERROR(db->SetEmbeddingModel(IdentityJson(mine)));
  } else if (!SameModelAs(recorded, mine)) {
    return Status::InvalidArgument("the database's vectors were made by model " + recorded + ", not by " +
                                   mine.ToString() + "; use the model that made them");
  }
  return TextIndex(db, embedder);
}

Status TextIndex::Put(std::string_view id, std::string_view text, std::string_view metadata_json) {
  VDB_ASSIGN_OR_RETURN(std::vector<float> v, embedder_->EmbedOne(text));
  return db_->Put(id, v, metadata_json);
}

Status TextIndex::PutBatch(std::span<const TextRecord> records) {
  std::vector<std::string> texts;
  texts.reserve(records.size());
  for (const auto& r : records) texts.push_back(r.text);
  VDB_ASSIGN_OR_RETURN(auto vecs, embedder_->Embed(texts));
  WriteBatch b;
  for (size_t i = 0; i < records.size(); i++) b.Put(records[i].id, std::move(vecs[i]), records[i].metadata);
  return db_->Write(b);
}

Result<std::vector<SearchHit>> TextIndex::Search(std::string_view text, const SearchOptions& options) const {
  VDB_ASSIGN_OR_RETURN(std::vector<float> q, embedder_->EmbedOne(text));
  return db_->Search(q, options);
}

}  // namespace vdb::embed
