#include "engine/embed/model_config.h"

#include <dirent.h>

#include <algorithm>
#include <cstdlib>

#include <nlohmann/json.hpp>

#include "engine/embed/file_util.h"

namespace vdb::embed {
namespace {

constexpr char kHowToGetModel[] =
    "to get one: git clone https://huggingface.co/sentence-transformers/all-MiniLM-L6-v2 "
    "(with git-lfs) and pass --model ./all-MiniLM-L6-v2 (or set VDB_MODEL), or use "
    "--model hash for the built-in lexical embedder (it matches words, not meaning)";

Status CheckRange(std::string_view what, const char* key, int64_t v, int64_t lo,
                  int64_t hi) {
  if (v < lo || v > hi) {
    return Status::InvalidArgument(std::string(what) + ": " + key + " = " +
                                   std::to_string(v) + " is outside [" +
                                   std::to_string(lo) + ", " + std::to_string(hi) + "]");
  }
  return Status::Ok();
}

std::string BaseName(std::string_view path) {
  while (path.size() > 1 && path.back() == '/') path.remove_suffix(1);
  size_t slash = path.rfind('/');
  return std::string(slash == std::string_view::npos ? path : path.substr(slash + 1));
}

std::vector<std::string> ListDirectory(const std::string& dir) {
  std::vector<std::string> out;
  DIR* d = ::opendir(dir.c_str());
  if (d == nullptr) return out;
  while (dirent* e = ::readdir(d)) {
    std::string n = e->d_name;
    if (n != "." && n != "..") out.push_back(n);
  }
  ::closedir(d);
  std::sort(out.begin(), out.end());
  return out;
}

Result<PoolingConfig> ReadPooling(const std::string& path) {
  VDB_ASSIGN_OR_RETURN(nlohmann::json j, ReadJsonFile(path));
  if (!j.is_object()) return Status::InvalidArgument(path + ": not a JSON object");
  PoolingConfig p;
  struct Flag { const char* key; PoolingMode mode; };
  for (Flag f : {Flag{"pooling_mode_cls_token", PoolingMode::kCls},
                 Flag{"pooling_mode_max_tokens", PoolingMode::kMax},
                 Flag{"pooling_mode_mean_tokens", PoolingMode::kMean},
                 Flag{"pooling_mode_mean_sqrt_len_tokens", PoolingMode::kMeanSqrtLen}}) {
    VDB_ASSIGN_OR_RETURN(bool on, JsonBool(j, f.key, false, path));
    if (on) p.modes.push_back(f.mode);
  }
  for (const char* unsupported : {"pooling_mode_weightedmean_tokens", "pooling_mode_lasttoken"}) {
    VDB_ASSIGN_OR_RETURN(bool on, JsonBool(j, unsupported, false, path));
    if (on) {
      return Status::NotSupported(path + ": " + unsupported + " is not supported");
    }
  }
  if (p.modes.empty()) return Status::InvalidArgument(path + ": no pooling mode is enabled");
  return p;
}

}  // namespace

Result<BertConfig> ParseBertConfig(const std::string& json_text, std::string_view what) {
  VDB_ASSIGN_OR_RETURN(nlohmann::json j, ParseJson(json_text, what));
  if (!j.is_object()) return Status::InvalidArgument(std::string(what) + ": not a JSON object");
  BertConfig c;
  VDB_ASSIGN_OR_RETURN(std::string model_type, JsonString(j, "model_type", "bert", what));
  if (model_type != "bert") {
    return Status::NotSupported(std::string(what) + ": model_type \"" + model_type +
                                "\" is not supported (BERT only)");
  }
  VDB_ASSIGN_OR_RETURN(std::string pos, JsonString(j, "position_embedding_type", "absolute", what));
  if (pos != "absolute") {
    return Status::NotSupported(std::string(what) + ": position_embedding_type \"" + pos +
                                "\" is not supported (absolute only)");
  }
  VDB_ASSIGN_OR_RETURN(c.vocab_size, JsonRequiredInt(j, "vocab_size", what));
  VDB_ASSIGN_OR_RETURN(c.hidden_size, JsonRequiredInt(j, "hidden_size", what));
  VDB_ASSIGN_OR_RETURN(c.num_hidden_layers, JsonRequiredInt(j, "num_hidden_layers", what));
  VDB_ASSIGN_OR_RETURN(c.num_attention_heads, JsonRequiredInt(j, "num_attention_heads", what));
  VDB_ASSIGN_OR_RETURN(c.intermediate_size, JsonRequiredInt(j, "intermediate_size", what));
  VDB_ASSIGN_OR_RETURN(c.max_position_embeddings, JsonInt(j, "max_position_embeddings", 512, what));
  VDB_ASSIGN_OR_RETURN(c.type_vocab_size, JsonInt(j, "type_vocab_size", 2, what));
  VDB_ASSIGN_OR_RETURN(c.layer_norm_eps, JsonDouble(j, "layer_norm_eps", 1e-12, what));
  VDB_ASSIGN_OR_RETURN(c.hidden_act, JsonString(j, "hidden_act", "gelu", what));
  VDB_RETURN_IF_ERROR(CheckRange(what, "vocab_size", c.vocab_size, 1, 10'000'000));
  VDB_RETURN_IF_ERROR(CheckRange(what, "hidden_size", c.hidden_size, 1, 65536));
  VDB_RETURN_IF_ERROR(CheckRange(what, "num_hidden_layers", c.num_hidden_layers, 0, 1024));
  VDB_RETURN_IF_ERROR(CheckRange(what, "num_attention_heads", c.num_attention_heads, 1, 4096));
  VDB_RETURN_IF_ERROR(CheckRange(what, "intermediate_size", c.intermediate_size, 1, 1 << 20));
  VDB_RETURN_IF_ERROR(CheckRange(what, "max_position_embeddings", c.max_position_embeddings, 2, 1 << 20));
  VDB_RETURN_IF_ERROR(CheckRange(what, "type_vocab_size", c.type_vocab_size, 1, 1 << 20));
  if (c.hidden_size % c.num_attention_heads != 0) {
    return Status::InvalidArgument(std::string(what) + ": hidden_size " +
                                   std::to_string(c.hidden_size) +
                                   " is not a multiple of num_attention_heads " +
                                   std::to_string(c.num_attention_heads));
  }
  if (!(c.layer_norm_eps > 0 && c.layer_norm_eps < 1)) {
    return Status::InvalidArgument(std::string(what) + ": layer_norm_eps must be in (0, 1)");
  }
  if (c.hidden_act != "gelu" && c.hidden_act != "gelu_new" &&
      c.hidden_act != "gelu_pytorch_tanh" && c.hidden_act != "relu") {
    return Status::NotSupported(std::string(what) + ": hidden_act \"" + c.hidden_act +
                                "\" is not supported");
  }
  return c;
}

Result<ModelDirectory> ReadModelDirectory(const std::string& dir) {
  if (!PathIsDirectory(dir)) {
    return Status::NotFound(dir + ": not a model directory (no such directory)");
  }
  ModelDirectory m;
  m.path = dir;
  m.name = BaseName(dir);
  const std::string config_path = JoinPath(dir, "config.json");
  if (!PathIsFile(config_path)) {
    return Status::NotFound(dir + ": missing config.json (not a Hugging Face model directory)");
  }
  VDB_ASSIGN_OR_RETURN(std::string config_text, ReadFileToString(config_path));
  VDB_ASSIGN_OR_RETURN(m.bert, ParseBertConfig(config_text, config_path));

  // modules.json: Transformer, then Pooling, then optionally Normalize.
  const std::string modules_path = JoinPath(dir, "modules.json");
  std::string pooling_dir;
  if (PathIsFile(modules_path)) {
    VDB_ASSIGN_OR_RETURN(nlohmann::json mods, ReadJsonFile(modules_path));
    if (!mods.is_array()) return Status::InvalidArgument(modules_path + ": not a JSON array");
    bool have_transformer = false;
    for (const auto& mod : mods) {
      VDB_ASSIGN_OR_RETURN(std::string type, JsonString(mod, "type", "", modules_path));
      VDB_ASSIGN_OR_RETURN(std::string path, JsonString(mod, "path", "", modules_path));
      std::string_view short_type = type;
      if (size_t dot = short_type.rfind('.'); dot != std::string_view::npos) {
        short_type = short_type.substr(dot + 1);
      }
      if (path.find("..") != std::string::npos || (!path.empty() && path[0] == '/')) {
        return Status::InvalidArgument(modules_path + ": module path \"" + path +
                                       "\" leaves the model directory");
      }
      if (short_type == "Transformer") {
        have_transformer = true;
      } else if (short_type == "Pooling") {
        pooling_dir = JoinPath(dir, path);
      } else if (short_type == "Normalize") {
        m.normalize = true;
      } else {
        return Status::NotSupported(modules_path + ": module type \"" + type +
                                    "\" is not supported (Transformer, Pooling, Normalize)");
      }
    }
    if (!have_transformer) {
      return Status::InvalidArgument(modules_path + ": no Transformer module");
    }
    if (pooling_dir.empty()) {
      return Status::InvalidArgument(modules_path + ": no Pooling module");
    }
  } else {
    pooling_dir = JoinPath(dir, "1_Pooling");
  }
  const std::string pooling_path = JoinPath(pooling_dir, "config.json");
  if (PathIsFile(pooling_path)) {
    VDB_ASSIGN_OR_RETURN(m.pooling, ReadPooling(pooling_path));
  } else if (PathIsFile(modules_path)) {
    return Status::NotFound(dir + ": missing " + pooling_path + " (listed in modules.json)");
  } else {
    m.pooling.modes = {PoolingMode::kMean};
  }

  int64_t max_seq = m.bert.max_position_embeddings;
  const std::string sbert_path = JoinPath(dir, "sentence_bert_config.json");
  if (PathIsFile(sbert_path)) {
    VDB_ASSIGN_OR_RETURN(nlohmann::json sb, ReadJsonFile(sbert_path));
    VDB_ASSIGN_OR_RETURN(max_seq, JsonInt(sb, "max_seq_length", max_seq, sbert_path));
    if (max_seq < 2) {
      return Status::InvalidArgument(sbert_path + ": max_seq_length must be at least 2");
    }
  }
  m.max_seq_length = static_cast<size_t>(std::min(max_seq, m.bert.max_position_embeddings));

  m.weights_path = JoinPath(dir, "model.safetensors");
  if (!PathIsFile(m.weights_path)) {
    std::string hint;
    if (PathIsFile(JoinPath(dir, "pytorch_model.bin"))) {
      hint = " (pytorch_model.bin is not read: only safetensors is supported)";
    }
    return Status::NotFound(dir + ": missing model.safetensors" + hint);
  }
  return m;
}

Result<ModelLocation> FindModel(std::string_view spec_in) {
  std::string spec(spec_in);
  if (spec.empty()) {
    const char* env = std::getenv("VDB_MODEL");
    if (env == nullptr || *env == '\0') {
      return Status::NotFound(std::string("no model given: pass --model DIR|NAME or set VDB_MODEL; ") +
                              kHowToGetModel);
    }
    spec = env;
  }
  if (PathIsDirectory(spec)) return ModelLocation{spec, BaseName(spec)};
  std::vector<std::string> looked{spec + " (not a directory)"};
  bool path_like = spec[0] == '/' || spec[0] == '.' || spec[0] == '~' ||
                   std::count(spec.begin(), spec.end(), '/') > 1;
  if (!path_like) {
    std::vector<std::string> names{spec};
    if (spec.find('/') == std::string::npos) names.push_back("sentence-transformers/" + spec);
    std::vector<std::string> roots;
    if (const char* c = std::getenv("HF_HUB_CACHE"); c && *c) roots.push_back(c);
    if (const char* h = std::getenv("HF_HOME"); h && *h) roots.push_back(JoinPath(h, "hub"));
    if (const char* x = std::getenv("XDG_CACHE_HOME"); x && *x) {
      roots.push_back(JoinPath(x, "huggingface/hub"));
    }
    if (const char* home = std::getenv("HOME"); home && *home) {
      roots.push_back(JoinPath(home, ".cache/huggingface/hub"));
    }
    for (const std::string& root : roots) {
      for (const std::string& name : names) {
        std::string folder = "models--" + name;
        for (size_t p = 0; (p = folder.find('/', p)) != std::string::npos;) {
          folder.replace(p, 1, "--");
        }
        std::string snapshots = JoinPath(JoinPath(root, folder), "snapshots");
        looked.push_back(snapshots + "/*/");
        std::vector<std::string> candidates;
        if (auto ref = ReadFileToString(JoinPath(JoinPath(root, folder), "refs/main")); ref.ok()) {
          std::string hash = *ref;
          while (!hash.empty() && (hash.back() == '\n' || hash.back() == '\r')) hash.pop_back();
          if (!hash.empty() && hash.find('/') == std::string::npos) candidates.push_back(hash);
        }
        for (std::string& s : ListDirectory(snapshots)) candidates.push_back(std::move(s));
        for (const std::string& c : candidates) {
          std::string snap = JoinPath(snapshots, c);
          if (PathIsFile(JoinPath(snap, "config.json"))) return ModelLocation{snap, name};
        }
      }
    }
  }
  std::string msg = "model \"" + spec + "\" not found; looked in:";
  for (const std::string& l : looked) msg += " " + l + ";";
  msg += " ";
  msg += kHowToGetModel;
  return Status::NotFound(msg);
}

}  // namespace vdb::embed
