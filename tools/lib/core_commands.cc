#include "tools/lib/core_commands.h"

#include <cmath>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>

#include "engine/dataset.h"
#include "engine/embed/embedder.h"
#include "engine/embed/text/text_index.h"
#include "tools/lib/cli_common.h"
#include "vdb/db.h"

namespace vdb::tools {

namespace {

using nlohmann::json;

bool EndsWith(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// A JSON number for a score or component; non-finite values become null.
json Num(float f) { return std::isfinite(f) ? json(f) : json(nullptr); }

// Loads the model and checks it against the database: the same model that
// made its vectors, or none recorded yet (then it is recorded if record).
Result<std::unique_ptr<embed::Embedder>> LoadModelFor(Database& db, const std::string& spec, bool record) {
  VDB_ASSIGN_OR_RETURN(auto emb, embed::Embedder::Load(spec));
  if (emb->is_lexical()) std::fprintf(stderr, "vdb: note: %s\n", embed::kLexicalNote);
  VDB_RETURN_IF_ERROR(embed::TextIndex::Attach(&db, emb.get(), record).status());
  return emb;
}

int RunCreate(const std::string& file, uint32_t dim, const std::string& metric, uint32_t m, uint32_t efc) {
  auto met = ParseMetric(metric);
  if (!met.ok()) return Fail("create", met.status());
  CreateOptions c;
  c.dim = dim;
  c.metric = *met;
  c.hnsw_m = m;
  c.hnsw_ef_construction = efc;
  auto db = Database::Create(file, c, {});
  if (!db.ok()) return Fail("create " + file, db.status());
  Status s = (*db)->Close();
  if (!s.ok()) return Fail("create " + file, s);
  std::printf("created %s: dim %u, metric %s\n", file.c_str(), dim, MetricName(*met));
  return kExitOk;
}

int RunImport(const std::string& file, const std::string& input, size_t batch_size, bool print_commits,
              const std::string& model) {
  if (batch_size == 0) return Fail("import", Status::InvalidArgument("--batch must be at least 1"));
  auto dbr = OpenDatabase(file, false);
  if (!dbr.ok()) return Fail("open " + file, dbr.status());
  Database& db = **dbr;
  // Pipelined: a batch is submitted, and waited for only after the next one
  // is read and submitted, so reading and HNSW linking overlap the previous
  // batch's log write and fdatasync. Batches commit in input order; a failed
  // batch stops the import with every earlier one committed.
  uint64_t committed = 0;  // records of the commits known durable
  uint64_t inflight_seq = 0;
  size_t inflight_n = 0;
  auto settle = [&]() -> Status {
    if (inflight_n == 0) return Status::Ok();
    VDB_RETURN_IF_ERROR(db.Wait(inflight_seq));
    committed += inflight_n;
    inflight_n = 0;
    if (print_commits) {
      std::printf("committed %llu\n", static_cast<unsigned long long>(committed));
      std::fflush(stdout);
    }
    return Status::Ok();
  };
  auto commit = [&](WriteBatch& b) -> Status {
    if (b.empty()) return Status::Ok();
    auto seq = db.Submit(b);
    if (!seq.ok()) {
      (void)settle();  // the batches before this one stay committed
      return seq.status();
    }
    VDB_RETURN_IF_ERROR(settle());
    inflight_seq = *seq;
    inflight_n = b.size();
    b.Clear();
    return Status::Ok();
  };
  // An error after some batches were submitted: the last of them is waited
  // for (and reported with --print-commits) before the error is.
  auto fail = [&](const std::string& what, const Status& st) {
    (void)settle();
    return Fail(what, st);
  };
  WriteBatch batch;
  if (EndsWith(input, ".fvecs") || EndsWith(input, ".bvecs")) {
    auto rd = dataset::VecsReader::Open(input);
    if (!rd.ok()) return fail("read " + input, rd.status());
    std::vector<float> rows;
    uint64_t row = 0;
    for (;;) {
      auto n = (*rd)->ReadFloats(batch_size, &rows);
      if (!n.ok()) return fail("read " + input, n.status());
      if (*n == 0) break;
      uint32_t d = (*rd)->dim();
      for (size_t i = 0; i < *n; i++, row++)
        batch.Put(std::to_string(row), std::vector<float>(rows.begin() + i * d, rows.begin() + (i + 1) * d));
      Status s = commit(batch);
      if (!s.ok()) return fail("import " + input + " (rows " + std::to_string(row - *n) + ".." + std::to_string(row - 1) + ")", s);
    }
  } else if (EndsWith(input, ".jsonl") || EndsWith(input, ".json") || input == "-") {
    auto rd = dataset::JsonlReader::Open(input == "-" ? "/dev/stdin" : input);
    if (!rd.ok()) return fail("read " + input, rd.status());
    std::unique_ptr<embed::Embedder> emb;
    std::vector<std::string> texts;
    std::vector<dataset::JsonlRecord> pending;
    auto flush_texts = [&]() -> Status {
      if (pending.empty()) return Status::Ok();
      VDB_ASSIGN_OR_RETURN(auto vecs, emb->Embed(texts));
      for (size_t i = 0; i < pending.size(); i++)
        batch.Put(std::move(pending[i].id), std::move(vecs[i]), std::move(pending[i].metadata));
      pending.clear();
      texts.clear();
      return commit(batch);
    };
    dataset::JsonlRecord rec;
    for (;;) {
      auto more = (*rd)->Next(&rec);
      if (!more.ok()) return fail("read " + input, more.status());
      if (!*more) break;
      if (rec.vector.empty()) {
        if (!rec.text) return fail("read " + input, Status::InvalidArgument("line " + std::to_string((*rd)->line_number()) + ": needs \"vector\" or \"text\""));
        if (!emb) {
          if (model.empty())
            return fail("import", Status::InvalidArgument("line " + std::to_string((*rd)->line_number()) +
                                                          " has text but no vector: pass --model to embed it"));
          auto e = LoadModelFor(db, model, true);
          if (!e.ok()) return fail("model " + model, e.status());
          emb = std::move(*e);
        }
        texts.push_back(*rec.text);
        pending.push_back(std::move(rec));
        if (pending.size() >= batch_size) {
          Status s = flush_texts();
          if (!s.ok()) return fail("import " + input, s);
        }
        continue;
      }
      batch.Put(std::move(rec.id), std::move(rec.vector), std::move(rec.metadata));
      if (batch.size() >= batch_size) {
        Status s = commit(batch);
        if (!s.ok()) return fail("import " + input + " (before line " + std::to_string((*rd)->line_number()) + ")", s);
      }
    }
    if (emb) {
      Status s = flush_texts();
      if (!s.ok()) return fail("import " + input, s);
    }
  } else {
    return fail("import", Status::InvalidArgument("unknown input format '" + input +
                                                  "' (expected .fvecs, .bvecs or .jsonl)"));
  }
  Status s = commit(batch);
  if (s.ok()) s = settle();
  if (!s.ok()) return fail("import " + input, s);
  s = db.Close();
  if (!s.ok()) return Fail("close " + file, s);
  if (!print_commits) std::fprintf(stderr, "imported %llu records into %s\n", static_cast<unsigned long long>(committed), file.c_str());
  return kExitOk;
}

int RunSearch(const std::string& file, const std::string& queries, const std::vector<std::string>& texts, size_t k,
              bool exact, uint32_t ef, const std::string& model, int threads) {
  auto dbr = OpenDatabase(file, true);
  if (!dbr.ok()) return Fail("open " + file, dbr.status());
  Database& db = **dbr;
  uint32_t dim = db.GetStats().dim;
  std::vector<float> qs;
  size_t nq = 0;
  if (!texts.empty()) {
    if (model.empty()) return Fail("search", Status::InvalidArgument("--text needs --model"));
    auto emb = LoadModelFor(db, model, false);
    if (!emb.ok()) return Fail("model " + model, emb.status());
    auto vecs = (*emb)->Embed(texts);
    if (!vecs.ok()) return Fail("embed", vecs.status());
    for (auto& v : *vecs) qs.insert(qs.end(), v.begin(), v.end());
    nq = texts.size();
  } else if (EndsWith(queries, ".fvecs") || EndsWith(queries, ".bvecs")) {
    auto m = dataset::LoadVecsAsFloat(queries);
    if (!m.ok()) return Fail("read " + queries, m.status());
    if (m->rows > 0 && m->dim != dim)
      return Fail("search", Status::InvalidArgument(queries + " has dimension " + std::to_string(m->dim) +
                                                    "; the database has dimension " + std::to_string(dim)));
    qs = std::move(m->data);
    nq = m->rows;
  } else if (EndsWith(queries, ".jsonl") || queries == "-") {
    // Query lines: {"vector": [...]} (other fields, like "id", are ignored).
    std::ifstream in(queries == "-" ? "/dev/stdin" : queries);
    if (!in) return Fail("read " + queries, Status::NotFound(queries + ": cannot open"));
    std::string line;
    for (uint64_t ln = 1; std::getline(in, line); ln++) {
      if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
      json j = json::parse(line, nullptr, false);
      std::string where = queries + ": line " + std::to_string(ln);
      if (j.is_discarded() || !j.is_object()) return Fail("read", Status::InvalidArgument(where + ": not a JSON object"));
      auto it = j.find("vector");
      if (it == j.end() || !it->is_array())
        return Fail("read", Status::InvalidArgument(where + ": needs \"vector\": [numbers]"));
      if (it->size() != dim)
        return Fail("search", Status::InvalidArgument(where + ": query has " + std::to_string(it->size()) +
                                                      " components; the database has dimension " + std::to_string(dim)));
      for (const auto& x : *it) {
        if (!x.is_number()) return Fail("read", Status::InvalidArgument(where + ": vector holds a non-number"));
        qs.push_back(x.get<float>());
      }
      nq++;
    }
  } else {
    return Fail("search", Status::InvalidArgument("give --queries FILE (.fvecs, .bvecs, .jsonl) or --text"));
  }
  SearchOptions o;
  o.k = k;
  o.exact = exact;
  o.ef = ef;
  o.threads = threads;
  // Batches of queries keep memory bounded and let exact search use sgemm.
  const size_t kChunk = 256;
  for (size_t first = 0; first < nq; first += kChunk) {
    size_t n = std::min(kChunk, nq - first);
    auto res = db.SearchBatch(std::span<const float>(qs.data() + first * dim, n * dim), n, o);
    if (!res.ok()) return Fail("search", res.status());
    for (const auto& hits : *res) {
      json ids = json::array(), scores = json::array();
      for (const auto& h : hits) {
        ids.push_back(h.id);
        scores.push_back(Num(h.score));
      }
      std::cout << json{{"ids", ids}, {"scores", scores}}.dump() << '\n';
    }
  }
  std::cout.flush();
  return kExitOk;
}

int RunGet(const std::string& file, const std::string& id) {
  auto dbr = OpenDatabase(file, true);
  if (!dbr.ok()) return Fail("open " + file, dbr.status());
  auto r = (*dbr)->Get(id);
  if (!r.ok()) return Fail("get " + id, r.status());
  json vec = json::array();
  for (float f : r->vector) vec.push_back(Num(f));
  json meta = r->metadata.empty() ? json::object() : json::parse(r->metadata, nullptr, false);
  std::cout << json{{"id", r->id}, {"vector", vec}, {"metadata", meta}}.dump() << std::endl;
  return kExitOk;
}

int RunDelete(const std::string& file, const std::vector<std::string>& ids) {
  auto dbr = OpenDatabase(file, false);
  if (!dbr.ok()) return Fail("open " + file, dbr.status());
  WriteBatch b;
  for (const auto& id : ids) b.Delete(id);
  Status s = (*dbr)->Write(b);
  if (!s.ok()) return Fail("delete", s);
  s = (*dbr)->Close();
  if (!s.ok()) return Fail("close " + file, s);
  std::printf("deleted %zu\n", ids.size());
  return kExitOk;
}

int RunStats(const std::string& file, bool as_json) {
  auto dbr = OpenDatabase(file, true);
  if (!dbr.ok()) return Fail("open " + file, dbr.status());
  Stats st = (*dbr)->GetStats();
  auto model = (*dbr)->EmbeddingModel();
  json j{{"count", st.count},
         {"dim", st.dim},
         {"metric", MetricName(st.metric)},
         {"file_bytes", st.file_bytes},
         {"wal_bytes", st.wal_bytes},
         {"slots", st.slots},
         {"free_slots", st.free_slots},
         {"commit_seq", st.commit_seq},
         {"page_size", st.page_size},
         {"hnsw", {{"m", st.hnsw_m},
                   {"ef_construction", st.hnsw_ef_construction},
                   {"levels", st.graph_levels},
                   {"mean_degree", st.graph_mean_degree},
                   {"deleted", st.graph_deleted},
                   {"entry_point", st.graph_entry_point},
                   {"unindexed", st.unindexed}}}};
  if (model.ok() && !model->empty()) j["model"] = json::parse(*model, nullptr, false);
  if (as_json) {
    std::cout << j.dump() << std::endl;
  } else {
    std::cout << file << ": " << st.count << " records, dim " << st.dim << ", metric " << MetricName(st.metric)
              << ", " << st.file_bytes << " bytes (WAL " << st.wal_bytes << ")\n";
  }
  return kExitOk;
}

int RunCompact(const std::string& file) {
  auto dbr = OpenDatabase(file, false);
  if (!dbr.ok()) return Fail("open " + file, dbr.status());
  uint64_t freed = 0;
  Status s = (*dbr)->Compact(&freed);
  if (!s.ok()) return Fail("compact", s);
  s = (*dbr)->Close();
  if (!s.ok()) return Fail("close " + file, s);
  std::printf("compacted %s: %llu deleted records unlinked from the graph, their slots free for reuse\n", file.c_str(),
              static_cast<unsigned long long>(freed));
  return kExitOk;
}

}  // namespace

void AddCoreCommands(CLI::App& app, int* exit_code) {
  struct Args {
    std::string file, input, metric = "cosine", queries, model, id;
    std::vector<std::string> ids, texts;
    uint32_t dim = 0, m = 16, efc = 200, ef = 0;
    size_t batch = 1000, k = 10;
    bool print_commits = false, exact = false, as_json = false;
    int threads = 1;
  };
  auto a = std::make_shared<Args>();

  auto* create = app.add_subcommand("create", "Create a new database file");
  create->add_option("FILE", a->file, "database file")->required();
  create->add_option("--dim", a->dim, "vector dimension")->required()->check(CLI::Range(1, 65536));
  create->add_option("--metric", a->metric, "cosine, l2 or dot")->check(CLI::IsMember({"cosine", "l2", "dot"}));
  create->add_option("--m", a->m, "HNSW M (links per node; 2*M on layer 0)")->check(CLI::Range(2, 128));
  create->add_option("--ef-construction", a->efc, "HNSW ef_construction")->check(CLI::Range(1, 100000));
  create->callback([a, exit_code] { *exit_code = RunCreate(a->file, a->dim, a->metric, a->m, a->efc); });

  auto* imp = app.add_subcommand("import", "Import vectors from .fvecs, .bvecs or .jsonl");
  imp->add_option("FILE", a->file, "database file")->required();
  imp->add_option("INPUT", a->input, "input file (.fvecs/.bvecs: id = row number; .jsonl: {id, vector|text, metadata})")->required();
  imp->add_option("--batch", a->batch, "records per transaction")->check(CLI::Range(1, 10000000));
  imp->add_flag("--print-commits", a->print_commits, "print 'committed N' after every durable commit");
  imp->add_option("--model", a->model, "embedding model for records with text (directory, HF name, hash)");
  imp->callback([a, exit_code] { *exit_code = RunImport(a->file, a->input, a->batch, a->print_commits, a->model); });

  auto* search = app.add_subcommand("search", "Search; prints one JSON line per query");
  search->add_option("FILE", a->file, "database file")->required();
  search->add_option("--queries", a->queries, "queries: .fvecs, .bvecs or .jsonl ({\"vector\": [...]})");
  search->add_option("--text", a->texts, "query text(s), embedded with --model");
  search->add_option("--model", a->model, "embedding model for --text");
  search->add_option("--k", a->k, "results per query")->check(CLI::Range(1, 100000));
  search->add_flag("--exact", a->exact, "brute-force search");
  search->add_option("--ef", a->ef, "HNSW ef_search for this run");
  search->add_option("--threads", a->threads, "threads for exact search")->check(CLI::Range(1, 256));
  search->callback([a, exit_code] {
    *exit_code = RunSearch(a->file, a->queries, a->texts, a->k, a->exact, a->ef, a->model, a->threads);
  });

  auto* get = app.add_subcommand("get", "Print one record as JSON");
  get->add_option("FILE", a->file, "database file")->required();
  get->add_option("ID", a->id, "record id")->required();
  get->callback([a, exit_code] { *exit_code = RunGet(a->file, a->id); });

  auto* del = app.add_subcommand("delete", "Delete records (all or none)");
  del->add_option("FILE", a->file, "database file")->required();
  del->add_option("ID", a->ids, "record ids")->required();
  del->callback([a, exit_code] { *exit_code = RunDelete(a->file, a->ids); });

  auto* stats = app.add_subcommand("stats", "Print statistics");
  stats->add_option("FILE", a->file, "database file")->required();
  stats->add_flag("--json", a->as_json, "as JSON");
  stats->callback([a, exit_code] { *exit_code = RunStats(a->file, a->as_json); });

  auto* compact = app.add_subcommand("compact", "HNSW repair pass: unlink deleted records, free their slots");
  compact->add_option("FILE", a->file, "database file")->required();
  compact->callback([a, exit_code] { *exit_code = RunCompact(a->file); });
}

}  // namespace vdb::tools
