#include "tools/lib/embed_commands.h"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <iostream>
#include <memory>
#include <numeric>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "engine/embed/embedder.h"
#include "engine/embed/file_util.h"
#include "engine/embed/safetensors.h"

namespace vdb::tools {
namespace {

using embed::Embedder;

constexpr int kUsageError = 2;
constexpr int kFailure = 1;
constexpr size_t kJsonlChunk = 256;

void AppendFloat(std::string* out, float v) {
  if (!std::isfinite(v)) {
    out->append("null");
    return;
  }
  char buf[32];
  auto r = std::to_chars(buf, buf + sizeof(buf), v);
  out->append(buf, r.ptr);
}

// min and max are values of the tensor: shortest float form.
std::string FloatString(double v) {
  std::string s;
  AppendFloat(&s, static_cast<float>(v));
  return s;
}

std::string FormatDouble(double v) {
  if (!std::isfinite(v)) return "null";
  char buf[40];
  auto r = std::to_chars(buf, buf + sizeof(buf), v, std::chars_format::general, 9);
  return std::string(buf, r.ptr);
}

int ReportError(const Status& s, int code) {
  std::cerr << "vdb: " << s.ToString() << "\n";
  return code;
}

// Loads the model for a command; prints the lexical note to stderr.
std::unique_ptr<Embedder> LoadModel(const std::string& spec, int* code) {
  auto e = Embedder::Load(spec);
  if (!e.ok()) {
    *code = ReportError(e.status(), e.status().IsNotFound() || e.status().IsInvalidArgument()
                                        ? kUsageError
                                        : kFailure);
    return nullptr;
  }
  if ((*e)->is_lexical()) std::cerr << "note: " << embed::kLexicalNote << "\n";
  return std::move(e).value();
}

// Reads stdin JSONL {"text": ...} in chunks and calls emit(texts) per chunk.
// Blank lines are skipped. Returns the exit status.
template <typename Emit>
int ForEachTextChunk(Emit emit) {
  std::vector<std::string> texts;
  std::string line;
  size_t line_no = 0;
  auto flush = [&]() -> int {
    if (texts.empty()) return 0;
    int rc = emit(texts);
    texts.clear();
    return rc;
  };
  while (std::getline(std::cin, line)) {
    ++line_no;
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    auto j = embed::ParseJson(line, "stdin line " + std::to_string(line_no));
    if (!j.ok()) return ReportError(j.status(), kUsageError);
    if (!j->is_object() || !j->contains("text") || !(*j)["text"].is_string()) {
      std::cerr << "vdb: stdin line " << line_no
                << ": expected a JSON object with a string field \"text\"\n";
      return kUsageError;
    }
    texts.push_back((*j)["text"].get<std::string>());
    if (texts.size() == kJsonlChunk) {
      if (int rc = flush(); rc != 0) return rc;
    }
  }
  return flush();
}

int RunTokenize(const std::string& model) {
  int code = 0;
  auto e = LoadModel(model, &code);
  if (!e) return code;
  return ForEachTextChunk([&](const std::vector<std::string>& texts) {
    auto ids = e->Tokenize(texts);
    if (!ids.ok()) return ReportError(ids.status(), kUsageError);
    std::string out;
    for (const auto& row : *ids) {
      out += "{\"input_ids\":[";
      for (size_t i = 0; i < row.size(); ++i) {
        if (i) out += ',';
        out += std::to_string(row[i]);
      }
      out += "]}\n";
    }
    std::cout << out << std::flush;
    return 0;
  });
}

int RunEmbed(const std::string& model) {
  int code = 0;
  auto e = LoadModel(model, &code);
  if (!e) return code;
  return ForEachTextChunk([&](const std::vector<std::string>& texts) {
    auto vecs = e->Embed(texts);
    if (!vecs.ok()) return ReportError(vecs.status(), kFailure);
    std::string out;
    for (const auto& v : *vecs) {
      out += "{\"embedding\":[";
      for (size_t i = 0; i < v.size(); ++i) {
        if (i) out += ',';
        AppendFloat(&out, v[i]);
      }
      out += "]}\n";
    }
    std::cout << out << std::flush;
    return 0;
  });
}

double Cosine(const std::vector<float>& a, const std::vector<float>& b) {
  double dot = 0, na = 0, nb = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    dot += static_cast<double>(a[i]) * b[i];
    na += static_cast<double>(a[i]) * a[i];
    nb += static_cast<double>(b[i]) * b[i];
  }
  if (na == 0 || nb == 0) return 0;
  return dot / std::sqrt(na * nb);
}

struct PeekOptions {
  std::string model;
  std::vector<std::string> sentences;
  bool compare = false;
  bool side_by_side = false;
  size_t first = 10;
  std::string weights;
  bool json = false;
  std::string layer;
  bool csv = false;
};

int PeekVectors(const PeekOptions& o) {
  if (o.sentences.empty()) {
    std::cerr << "vdb peek: give at least one sentence (or --weights PATH)\n";
    return kUsageError;
  }
  if (o.compare && o.side_by_side) {
    std::cerr << "vdb peek: --compare and --side-by-side exclude each other\n";
    return kUsageError;
  }
  if (o.compare && o.sentences.size() < 2) {
    std::cerr << "vdb peek --compare: give an anchor and at least one sentence\n";
    return kUsageError;
  }
  if (o.side_by_side && o.sentences.size() != 2) {
    std::cerr << "vdb peek --side-by-side: give exactly two sentences\n";
    return kUsageError;
  }
  int code = 0;
  auto e = LoadModel(o.model, &code);
  if (!e) return code;
  auto vecs_r = e->Embed(o.sentences);
  if (!vecs_r.ok()) return ReportError(vecs_r.status(), kFailure);
  const auto& vecs = *vecs_r;
  std::string out = "model: " + e->Describe() + "\n";
  if (e->is_lexical()) out += std::string("note: ") + embed::kLexicalNote + "\n";
  const size_t dim = e->dim();
  const size_t n = o.first == 0 ? dim : std::min(o.first, dim);
  if (o.compare) {
    std::vector<size_t> order(o.sentences.size() - 1);
    std::iota(order.begin(), order.end(), 1);
    std::vector<double> cos(o.sentences.size());
    for (size_t i = 1; i < o.sentences.size(); ++i) cos[i] = Cosine(vecs[0], vecs[i]);
    std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return cos[a] > cos[b]; });
    out += fmt::format("anchor: \"{}\"\n{:>4}  {:>8}  {}\n", o.sentences[0], "rank", "cosine",
                       "sentence");
    for (size_t r = 0; r < order.size(); ++r) {
      out += fmt::format("{:>4}  {:>7.2f}%  \"{}\"\n", r + 1, 100.0 * cos[order[r]],
                         o.sentences[order[r]]);
    }
  } else if (o.side_by_side) {
    const auto& a = vecs[0];
    const auto& b = vecs[1];
    out += fmt::format("A: \"{}\"\nB: \"{}\"\n{:>5}  {:>11}  {:>11}  {:>11}\n", o.sentences[0],
                       o.sentences[1], "index", "A", "B", "A-B");
    for (size_t i = 0; i < n; ++i) {
      out += fmt::format("{:>5}  {:>+11.6f}  {:>+11.6f}  {:>+11.6f}\n", i, a[i], b[i], a[i] - b[i]);
    }
    if (n < dim) out += fmt::format("  ... {} more (use --first 0 for all)\n", dim - n);
    size_t worst = 0;
    double l2 = 0;
    for (size_t i = 0; i < dim; ++i) {
      double d = static_cast<double>(a[i]) - b[i];
      l2 += d * d;
      if (std::fabs(d) > std::fabs(static_cast<double>(a[worst]) - b[worst])) worst = i;
    }
    out += fmt::format("cosine {:.2f}%  L2 distance {:.6f}  largest difference at index {} ({:+.6f})\n",
                       100.0 * Cosine(a, b), std::sqrt(l2), worst, a[worst] - b[worst]);
  } else {
    for (size_t s = 0; s < o.sentences.size(); ++s) {
      const auto& v = vecs[s];
      out += fmt::format("\"{}\"\n{} dimensions; first {}:\n{:>5}  {:>4}  {:>11}\n", o.sentences[s],
                         dim, n, "index", "sign", "value");
      for (size_t i = 0; i < n; ++i) {
        out += fmt::format("{:>5}  {:>4}  {:>+11.6f}\n", i, v[i] < 0 ? "-" : "+", v[i]);
      }
      size_t mn = std::min_element(v.begin(), v.end()) - v.begin();
      size_t mx = std::max_element(v.begin(), v.end()) - v.begin();
      double mean = std::accumulate(v.begin(), v.end(), 0.0) / std::max<size_t>(1, dim);
      double norm = std::sqrt(std::inner_product(v.begin(), v.end(), v.begin(), 0.0));
      out += fmt::format("min {:+.6f} (index {})  max {:+.6f} (index {})  mean {:+.6f}  norm {:.6f}\n",
                         v[mn], mn, v[mx], mx, mean, norm);
    }
  }
  std::cout << out << std::flush;
  return 0;
}

struct TensorStats {
  double min = 0, max = 0, mean = 0, std = 0;
};

TensorStats ComputeStats(const std::vector<float>& v) {
  TensorStats s;
  if (v.empty()) return s;
  s.min = s.max = v[0];
  double sum = 0;
  for (float x : v) {
    s.min = std::min<double>(s.min, x);
    s.max = std::max<double>(s.max, x);
    sum += x;
  }
  s.mean = sum / static_cast<double>(v.size());
  double var = 0;
  for (float x : v) var += (x - s.mean) * (x - s.mean);
  s.std = std::sqrt(var / static_cast<double>(v.size()));
  return s;
}

void AppendValue(std::string* out, const embed::TensorInfo& t, float v) {
  if (embed::DTypeIsFloat(t.dtype)) {
    AppendFloat(out, v);
  } else {
    *out += std::to_string(static_cast<int64_t>(v));
  }
}

std::string ShapeJson(const embed::TensorInfo& t) {
  std::string s = "[";
  for (size_t i = 0; i < t.shape.size(); ++i) {
    if (i) s += ",";
    s += std::to_string(t.shape[i]);
  }
  return s + "]";
}

int PeekWeights(const PeekOptions& o) {
  std::string path = o.weights;
  if (embed::PathIsDirectory(path)) path = embed::JoinPath(path, "model.safetensors");
  auto f = embed::SafetensorsFile::Open(path);
  if (!f.ok()) {
    return ReportError(f.status(), f.status().IsNotFound() ? kUsageError : kFailure);
  }
  const embed::SafetensorsFile& file = **f;
  if (!o.layer.empty()) {
    const embed::TensorInfo* t = file.header().Find(o.layer);
    if (t == nullptr) {
      std::cerr << "vdb peek: no tensor \"" << o.layer << "\" in " << path
                << " (peek --weights PATH lists them)\n";
      return kUsageError;
    }
    auto vals = file.ReadFloats(*t);
    if (!vals.ok()) return ReportError(vals.status(), kFailure);
    std::string out;
    if (o.csv) {
      out = "index,weight_value\n";
      for (size_t i = 0; i < vals->size(); ++i) {
        out += std::to_string(i);
        out += ',';
        AppendValue(&out, *t, (*vals)[i]);
        out += '\n';
      }
    } else {
      TensorStats s = ComputeStats(*vals);
      out = fmt::format("{}  {} {}  count {}\nmin {}  max {}  mean {}  std {}\n", t->name,
                        embed::DTypeName(t->dtype), ShapeJson(*t), t->count, FloatString(s.min),
                        FloatString(s.max), FormatDouble(s.mean), FormatDouble(s.std));
      size_t n = o.first == 0 ? vals->size() : std::min(o.first, vals->size());
      for (size_t i = 0; i < n; ++i) {
        out += fmt::format("{:>8}  ", i);
        AppendValue(&out, *t, (*vals)[i]);
        out += '\n';
      }
    }
    std::cout << out << std::flush;
    return 0;
  }
  std::vector<const embed::TensorInfo*> missing;
  std::string out = o.json ? "[\n" : "";
  if (!o.json) {
    out += fmt::format("{}: {} tensors, {} bytes\n{:<56} {:>5} {:>14} {:>10} {:>12} {:>12} {:>12} {:>12}\n",
                       path, file.header().tensors.size(), file.file_size(), "name", "dtype",
                       "shape", "count", "min", "max", "mean", "std");
  }
  bool first_entry = true;
  for (const embed::TensorInfo& t : file.header().tensors) {
    if (!file.IsPresent(t)) {
      missing.push_back(&t);
      continue;
    }
    auto vals = file.ReadFloats(t);
    if (!vals.ok()) return ReportError(vals.status(), kFailure);
    TensorStats s = ComputeStats(*vals);
    if (o.json) {
      if (!first_entry) out += ",\n";
      first_entry = false;
      out += "{\"name\":" + nlohmann::json(t.name).dump() + ",\"shape\":" + ShapeJson(t) +
             ",\"count\":" + std::to_string(t.count) + ",\"min\":" + FloatString(s.min) +
             ",\"max\":" + FloatString(s.max) + ",\"mean\":" + FormatDouble(s.mean) +
             ",\"std\":" + FormatDouble(s.std) + ",\"first_10_values\":[";
      for (size_t i = 0; i < std::min<size_t>(10, vals->size()); ++i) {
        if (i) out += ',';
        AppendValue(&out, t, (*vals)[i]);
      }
      out += "]}";
    } else {
      out += fmt::format("{:<56} {:>5} {:>14} {:>10} {:>12} {:>12} {:>12} {:>12}\n", t.name,
                         embed::DTypeName(t.dtype), ShapeJson(t), t.count, FloatString(s.min),
                         FloatString(s.max), FormatDouble(s.mean), FormatDouble(s.std));
    }
  }
  if (o.json) out += "\n]\n";
  std::cout << out << std::flush;
  if (!missing.empty()) {
    const auto& h = file.header();
    std::string msg = fmt::format(
        "warning: {} is truncated ({} of {} bytes): {} of {} tensors are missing or cut off:",
        path, file.file_size(), h.data_start + h.data_size, missing.size(), h.tensors.size());
    for (const embed::TensorInfo* t : missing) {
      msg += "\n  " + t->name;
      uint64_t start = h.data_start + t->begin;
      if (file.file_size() > start) {
        msg += fmt::format(" (cut off: {} of {} bytes present)", file.file_size() - start,
                           t->end - t->begin);
      }
    }
    std::cerr << msg << "\n";
    if (!o.json) std::cout << msg << "\n" << std::flush;
  }
  return 0;
}

int RunPeek(const PeekOptions& o) {
  if (!o.weights.empty()) {
    if (!o.sentences.empty() || o.compare || o.side_by_side) {
      std::cerr << "vdb peek: --weights does not take sentences\n";
      return kUsageError;
    }
    if (o.csv && o.layer.empty()) {
      std::cerr << "vdb peek: --csv needs --layer NAME\n";
      return kUsageError;
    }
    return PeekWeights(o);
  }
  if (o.json || o.csv || !o.layer.empty()) {
    std::cerr << "vdb peek: --json, --csv and --layer need --weights PATH\n";
    return kUsageError;
  }
  return PeekVectors(o);
}

constexpr char kModelHelp[] =
    "model directory, Hugging Face name in the local cache, or hash[:DIM] "
    "(lexical: matches words, not meaning); default $VDB_MODEL";

}  // namespace

void AddEmbedCommands(CLI::App& app, int* exit_code) {
  auto tok_model = std::make_shared<std::string>();
  CLI::App* tok = app.add_subcommand(
      "tokenize", "Token ids of texts: stdin JSONL {\"text\": ...} -> {\"input_ids\": [...]}");
  tok->add_option("--model,-m", *tok_model, kModelHelp);
  tok->callback([tok_model, exit_code] { *exit_code = RunTokenize(*tok_model); });

  auto emb_model = std::make_shared<std::string>();
  CLI::App* emb = app.add_subcommand(
      "embed", "Vectors of texts: stdin JSONL {\"text\": ...} -> {\"embedding\": [...]}");
  emb->add_option("--model,-m", *emb_model, kModelHelp);
  emb->callback([emb_model, exit_code] { *exit_code = RunEmbed(*emb_model); });

  auto po = std::make_shared<PeekOptions>();
  CLI::App* peek = app.add_subcommand(
      "peek", "Look inside: a sentence's vector, sentences ranked by similarity, or model weights");
  peek->add_option("--model,-m", po->model, kModelHelp);
  peek->add_option("sentences", po->sentences, "sentences to embed");
  peek->add_flag("--compare", po->compare,
                 "rank the sentences after the first by cosine similarity to the first");
  peek->add_flag("--side-by-side", po->side_by_side, "show two sentences' vectors index by index");
  peek->add_option("--first,-n", po->first, "values to show (0 = all)")->capture_default_str();
  peek->add_option("--weights", po->weights,
                   "model directory or .safetensors file whose tensors to summarize");
  peek->add_flag("--json", po->json, "with --weights: a JSON list of tensor statistics");
  peek->add_option("--layer", po->layer, "with --weights: one tensor by name");
  peek->add_flag("--csv", po->csv, "with --layer: index,weight_value rows");
  peek->callback([po, exit_code] { *exit_code = RunPeek(*po); });
}

}  // namespace vdb::tools
