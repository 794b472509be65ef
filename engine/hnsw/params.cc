#include "engine/hnsw/params.h"

#include <cmath>
#include <string>

namespace vdb::hnsw {

std::string_view MetricName(Metric metric) {
  switch (metric) {
    case Metric::kL2:
      return "l2";
    case Metric::kCosine:
      return "cosine";
    case Metric::kDot:
      return "dot";
  }
  return "unknown";
}

bool ParseMetric(std::string_view name, Metric* out) {
  if (name == "l2") {
    *out = Metric::kL2;
  } else if (name == "cosine") {
    *out = Metric::kCosine;
  } else if (name == "dot") {
    *out = Metric::kDot;
  } else {
    return false;
  }
  return true;
}

double Params::LevelMultiplier() const {
  return level_multiplier > 0.0 ? level_multiplier : 1.0 / std::log(static_cast<double>(m));
}

Status Params::Validate() const {
  if (metric != Metric::kL2 && metric != Metric::kCosine && metric != Metric::kDot) {
    return Status::InvalidArgument("hnsw params: unknown metric " +
                                   std::to_string(static_cast<int>(metric)));
  }
  if (dim == 0 || dim > kMaxDim) {
    return Status::InvalidArgument("hnsw params: dim " + std::to_string(dim) + " not in [1, " +
                                   std::to_string(kMaxDim) + "]");
  }
  if (m < 2 || m > kMaxDegreeCap) {
    return Status::InvalidArgument("hnsw params: M " + std::to_string(m) + " not in [2, " +
                                   std::to_string(kMaxDegreeCap) + "]");
  }
  if (MaxDegree0() < m || MaxDegree0() > kMaxDegreeCap) {
    return Status::InvalidArgument("hnsw params: M0 " + std::to_string(MaxDegree0()) +
                                   " not in [M, " + std::to_string(kMaxDegreeCap) + "]");
  }
  if (ef_construction < 1 || ef_construction > (1u << 20)) {
    return Status::InvalidArgument("hnsw params: ef_construction " +
                                   std::to_string(ef_construction) + " not in [1, 2^20]");
  }
  if (ef_search < 1 || ef_search > (1u << 20)) {
    return Status::InvalidArgument("hnsw params: ef_search " + std::to_string(ef_search) +
                                   " not in [1, 2^20]");
  }
  if (!(level_multiplier <= 16.0) || std::isnan(level_multiplier)) {
    return Status::InvalidArgument("hnsw params: level multiplier above 16");
  }
  if (max_level < 0 || max_level > kMaxLevelCap) {
    return Status::InvalidArgument("hnsw params: max_level " + std::to_string(max_level) +
                                   " not in [0, " + std::to_string(kMaxLevelCap) + "]");
  }
  return Status::Ok();
}

int RandomLevel(const Params& params, uint32_t slot) {
  // splitmix64 (Steele, Lea & Flood, 2014) of seed and slot: a bijective mixer,
  // so distinct slots give independent-looking draws.
  uint64_t z = params.seed + 0x9E3779B97F4A7C15ULL * (static_cast<uint64_t>(slot) + 1);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  z ^= z >> 31;
  // 53 random bits -> u in (0, 1): never 0, so -ln(u) is finite.
  const double u = (static_cast<double>(z >> 11) + 0.5) * 0x1.0p-53;
  const double level = std::floor(-std::log(u) * params.LevelMultiplier());
  if (!(level < static_cast<double>(params.max_level))) return params.max_level;
  return static_cast<int>(level);
}

}  // namespace vdb::hnsw
