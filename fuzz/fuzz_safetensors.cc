// Fuzzes the safetensors header parser and the dtype conversion on arbitrary
// bytes. Invariants of an accepted header: tensors sorted, contiguous from 0
// to data_size, each spanning count * dtype-size bytes; converting any tensor
// whose bytes are in the input neither crashes nor reads out of bounds.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <span>
#include <vector>

#include "engine/embed/safetensors.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto h = vdb::embed::ParseSafetensorsHeader(std::span<const uint8_t>(data, size), "fuzz");
  if (!h.ok()) {
    if (h.status().message().empty()) std::abort();
    return 0;
  }
  uint64_t expect = 0;
  for (const vdb::embed::TensorInfo& t : h->tensors) {
    if (t.begin != expect || t.end < t.begin) std::abort();
    if (t.end - t.begin != t.count * vdb::embed::DTypeSize(t.dtype)) std::abort();
    expect = t.end;
    if (t.name.empty()) std::abort();
    // Convert the tensor when its bytes are within the input (small ones).
    if (h->data_start + t.end <= size && t.count <= (1u << 16)) {
      std::vector<float> out(t.count);
      vdb::embed::ConvertToFloat(t.dtype, data + h->data_start + t.begin, t.count, out.data());
    }
  }
  if (expect != h->data_size) std::abort();
  if (h->data_start != 8 + h->header_size) std::abort();
  return 0;
}
