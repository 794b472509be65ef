// embed_bench: sentence-embedding throughput of vdb's BERT forward pass.
//
//   embed_bench [MODEL_DIR] [--seconds S]
//
// Without MODEL_DIR it builds a model of all-MiniLM-L6-v2's exact shape (the
// real header's tensor names and shapes, random weights, the real tokenizer
// files from ../shared/models/all-MiniLM-L6-v2) in a temporary directory.
// Texts: the short texts (<= 64 tokens) of ../shared/models/golden_tokens.jsonl
// and the knowledge-base facts. Reports sentences/s, tokens/s and GFLOP/s at
// batch 1 and batch 32 with 1 and 2 threads, against the FMA peak of the
// cores. PyTorch is run for comparison when python3 can import torch.
#include <fmt/format.h>
#include <unistd.h>

#include <chrono>
#include <ctime>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "engine/embed/embedder.h"
#include "engine/embed/model_config.h"

namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

const std::string kShared = VDB_SHARED_DIR;
const std::string kMiniLm = kShared + "/models/all-MiniLM-L6-v2";

std::string ReadAll(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Writes a model directory of all-MiniLM-L6-v2's shape with random weights.
bool MakeRandomMiniLm(const std::string& dir) {
  fs::create_directories(dir + "/1_Pooling");
  for (const char* f : {"config.json", "modules.json", "1_Pooling/config.json",
                        "sentence_bert_config.json", "vocab.txt", "tokenizer.json",
                        "tokenizer_config.json", "special_tokens_map.json"}) {
    std::error_code ec;
    fs::copy_file(kMiniLm + "/" + f, dir + "/" + f, fs::copy_options::overwrite_existing, ec);
    if (ec) return false;
  }
  nlohmann::json real = nlohmann::json::parse(ReadAll(kMiniLm + "/safetensors_header.json"));
  std::vector<std::pair<uint64_t, std::string>> order;
  for (auto it = real.begin(); it != real.end(); ++it) {
    if (it.key() != "__metadata__") order.emplace_back((*it)["data_offsets"][0].get<uint64_t>(), it.key());
  }
  std::sort(order.begin(), order.end());
  std::mt19937 rng(42);
  std::normal_distribution<float> normal(0.0f, 0.05f);
  nlohmann::json header = nlohmann::json::object();
  std::string data;
  for (const auto& [off, name] : order) {
    const auto& t = real[name];
    uint64_t count = 1;
    for (const auto& d : t["shape"]) count *= d.get<uint64_t>();
    std::string bytes;
    if (t["dtype"] == "I64") {
      for (uint64_t i = 0; i < count; ++i) {
        int64_t v = static_cast<int64_t>(i);
        bytes.append(reinterpret_cast<const char*>(&v), 8);
      }
    } else {
      std::vector<float> v(count);
      bool ln_weight = name.find("LayerNorm.weight") != std::string::npos;
      bool ln_bias = name.find("LayerNorm.bias") != std::string::npos;
      for (float& x : v) x = ln_weight ? 1.0f : ln_bias ? 0.0f : normal(rng);
      bytes.assign(reinterpret_cast<const char*>(v.data()), v.size() * 4);
    }
    header[name] = {{"dtype", t["dtype"]}, {"shape", t["shape"]},
                    {"data_offsets", {data.size(), data.size() + bytes.size()}}};
    data += bytes;
  }
  std::string h = header.dump();
  while ((8 + h.size()) % 8 != 0) h.push_back(' ');
  std::ofstream out(dir + "/model.safetensors", std::ios::binary);
  uint64_t n = h.size();
  out.write(reinterpret_cast<const char*>(&n), 8);
  out << h << data;
  return static_cast<bool>(out);
}

std::vector<std::string> ShortTexts(std::vector<size_t>* lengths) {
  std::vector<std::string> texts;
  std::ifstream in(kShared + "/models/golden_tokens.jsonl");
  std::string line;
  while (std::getline(in, line)) {
    auto j = nlohmann::json::parse(line);
    size_t n = j["input_ids"].size();
    if (n > 2 && n <= 64) {
      texts.push_back(j["text"]);
      lengths->push_back(n);
    }
  }
  std::ifstream kb(kShared + "/datasets/knowledge-base/facts.jsonl");
  while (std::getline(kb, line)) {
    auto j = nlohmann::json::parse(line, nullptr, false);
    if (j.is_object() && j.contains("text")) {
      texts.push_back(j["text"]);
      lengths->push_back(0);  // filled in from the tokenizer below
    }
  }
  return texts;
}

double CoreGhz() {
  std::ifstream in("/proc/cpuinfo");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("cpu MHz", 0) == 0) {
      return std::atof(line.substr(line.find(':') + 1).c_str()) / 1000.0;
    }
  }
  return 0;
}

struct Row {
  std::string name;
  double sent_per_s, tok_per_s, gflops, sent_per_cpu_s;
};

// CPU seconds used by this process (all threads): on a shared machine
// wall-clock rates fall with the load, CPU-time rates much less.
double ProcessCpuSeconds() {
  timespec ts;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return ts.tv_sec + ts.tv_nsec * 1e-9;
}

// FLOPs of one forward pass for a sequence of length L (multiply-add = 2).
double SequenceFlops(const vdb::embed::BertConfig& c, double L) {
  double H = c.hidden_size, F = c.intermediate_size;
  return c.num_hidden_layers * (2 * L * (4 * H * H + 2 * H * F) + 4 * L * L * H);
}

}  // namespace

int main(int argc, char** argv) {
  std::string model_dir;
  double seconds = 3.0;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--seconds" && i + 1 < argc) {
      seconds = std::atof(argv[++i]);
    } else {
      model_dir = a;
    }
  }
  std::string tmp;
  if (model_dir.empty()) {
    tmp = fs::temp_directory_path() / fmt::format("vdb_embed_bench_{}", ::getpid());
    if (!MakeRandomMiniLm(tmp)) {
      fmt::print(stderr, "cannot build the random MiniLM model in {}\n", tmp);
      return 1;
    }
    model_dir = tmp;
  }
  auto dir = vdb::embed::ReadModelDirectory(model_dir);
  if (!dir.ok()) {
    fmt::print(stderr, "{}\n", dir.status().ToString());
    return 1;
  }
  std::vector<size_t> lengths;
  std::vector<std::string> texts = ShortTexts(&lengths);
  {
    auto e = vdb::embed::Embedder::Load(model_dir);
    if (!e.ok()) {
      fmt::print(stderr, "{}\n", e.status().ToString());
      return 1;
    }
    auto ids = (*e)->Tokenize(texts);
    for (size_t i = 0; i < texts.size(); ++i) lengths[i] = (*ids)[i].size();
    fmt::print("model: {}{}\n", (*e)->Describe(), tmp.empty() ? "" : " (random weights)");
  }
  double total_tokens = 0, total_flops = 0;
  for (size_t n : lengths) {
    total_tokens += n;
    total_flops += SequenceFlops(dir->bert, static_cast<double>(n));
  }
  const double mean_tokens = total_tokens / texts.size();
  const double ghz = CoreGhz();
  const double peak_core = ghz * 32.0;  // 2 FMA pipes x 8 floats x 2 flops per cycle (AVX2)
  fmt::print("texts: {} short texts, {:.1f} tokens on average (incl. [CLS]/[SEP])\n", texts.size(),
             mean_tokens);
  fmt::print("peak: {:.2f} GHz x 32 flop/cycle (AVX2 FMA) = {:.1f} GFLOP/s per core\n\n", ghz,
             peak_core);

  fmt::print("{:<26} {:>9} {:>9} {:>8} {:>10} {:>12}\n", "workload", "sent/s", "tok/s", "GFLOP/s",
             "% of peak", "sent/CPU-s");
  std::vector<Row> rows;
  for (int threads : {1, 2}) {
    vdb::embed::EmbedderOptions opt;
    opt.num_threads = threads;
    auto e = vdb::embed::Embedder::Load(model_dir, opt);
    if (!e.ok()) return 1;
    for (size_t batch : {size_t{1}, size_t{32}}) {
      // Warm up, then run whole passes over the texts until `seconds` pass.
      std::vector<std::string> chunk;
      auto run_pass = [&] {
        for (size_t i = 0; i < texts.size(); i += batch) {
          chunk.assign(texts.begin() + i, texts.begin() + std::min(texts.size(), i + batch));
          auto v = (*e)->Embed(chunk);
          if (!v.ok()) std::abort();
        }
      };
      run_pass();
      size_t passes = 0;
      const double cpu0 = ProcessCpuSeconds();
      auto t0 = Clock::now();
      double el = 0;
      do {
        run_pass();
        ++passes;
        el = std::chrono::duration<double>(Clock::now() - t0).count();
      } while (el < seconds);
      const double cpu = ProcessCpuSeconds() - cpu0;
      rows.push_back({fmt::format("vdb batch {:>2}, {} thread{}", batch, threads, threads > 1 ? "s" : ""),
                      passes * texts.size() / el, passes * total_tokens / el,
                      passes * total_flops / el / 1e9, passes * texts.size() / cpu});
      fmt::print("{:<26} {:>9.1f} {:>9.0f} {:>8.1f} {:>9.0f}% {:>12.1f}\n", rows.back().name,
                 rows.back().sent_per_s, rows.back().tok_per_s, rows.back().gflops,
                 100.0 * rows.back().gflops / (peak_core * threads), rows.back().sent_per_cpu_s);
    }
  }

  // PyTorch, same shapes and token lengths, one thread, when available.
  fmt::print("\n");
  // Debian's python3-torch lives under /usr/bin/python3, which may not be
  // the first python3 on PATH.
  std::string python = "python3";
  if (std::system("/usr/bin/python3 -c 'import torch' >/dev/null 2>&1") == 0) python = "/usr/bin/python3";
  if (std::system((python + " -c 'import torch' >/dev/null 2>&1").c_str()) != 0) {
    fmt::print("PyTorch: skipped (python3 cannot import torch; install python3-torch to compare)\n");
  } else {
    std::string lens;
    for (size_t n : lengths) lens += std::to_string(n) + ",";
    const auto& c = dir->bert;
    std::string script = fmt::format(R"PY(
import time, torch
torch.set_num_threads(1)
H,F,L,NH,V={},{},{},{},{}
lens=[{}]
class Layer(torch.nn.Module):
    def __init__(s):
        super().__init__(); s.qkv=torch.nn.Linear(H,3*H); s.o=torch.nn.Linear(H,H); s.ln1=torch.nn.LayerNorm(H,eps=1e-12)
        s.i=torch.nn.Linear(H,F); s.out=torch.nn.Linear(F,H); s.ln2=torch.nn.LayerNorm(H,eps=1e-12)
    def forward(s,x,mask):
        B,T,_=x.shape; q,k,v=s.qkv(x).view(B,T,3,NH,H//NH).permute(2,0,3,1,4)
        a=torch.softmax(q@k.transpose(-1,-2)/(H//NH)**0.5+mask,-1)@v
        x=s.ln1(x+s.o(a.transpose(1,2).reshape(B,T,H)))
        return s.ln2(x+s.out(torch.nn.functional.gelu(s.i(x))))
emb=torch.nn.Embedding(V,H); layers=torch.nn.ModuleList([Layer() for _ in range(L)])
def run(batch):
    for i in range(0,len(lens),batch):
        ls=lens[i:i+batch]; T=max(ls); ids=torch.randint(0,V,(len(ls),T))
        m=torch.zeros(len(ls),T)
        for j,l in enumerate(ls): m[j,:l]=1
        x=emb(ids); mask=(1-m)[:,None,None,:]*-1e9
        for l in layers: x=l(x,mask)
        (x*m[...,None]).sum(1)/m.sum(1,keepdim=True)
with torch.inference_mode():
    for b in (1,32):
        run(b); n=0; t=time.time(); c=time.process_time()
        while time.time()-t<{}: run(b); n+=1
        el=time.time()-t; cpu=time.process_time()-c
        print(f"pytorch batch {{b:>2}}, 1 thread {{n*len(lens)/el:9.1f}} sent/s  {{n*len(lens)/cpu:9.1f}} sent/CPU-s  (torch {{torch.__version__}})")
)PY", c.hidden_size, c.intermediate_size, c.num_hidden_layers, c.num_attention_heads, c.vocab_size, lens, seconds);
    std::string path = fs::temp_directory_path() / fmt::format("vdb_embed_bench_{}.py", ::getpid());
    std::ofstream(path) << script;
    std::system((python + " " + path).c_str());
    fs::remove(path);
  }
  if (!tmp.empty()) fs::remove_all(tmp);
  return 0;
}
