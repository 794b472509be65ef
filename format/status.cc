#include "vdb/status.h"

#include <cerrno>
#include <cstring>
#include <string>

namespace vdb {

Status Status::FromErrno(int err, std::string_view context) {
  std::string m(context);
  m += ": ";
  m += std::strerror(err);
  if (err == ENOSPC || err == EDQUOT) return NoSpace(std::move(m));
  if (err == EROFS || err == EACCES || err == EPERM) return ReadOnly(std::move(m));
  return IOError(std::move(m));
}

std::string Status::ToString() const {
  const char* name = "OK";
  switch (code_) {
    case Code::kOk: return "OK";
    case Code::kNotFound: name = "Not found"; break;
    case Code::kCorruption: name = "Corruption"; break;
    case Code::kIOError: name = "IO error"; break;
    case Code::kInvalidArgument: name = "Invalid argument"; break;
    case Code::kNotSupported: name = "Not supported"; break;
    case Code::kBusy: name = "Busy"; break;
    case Code::kReadOnly: name = "Read-only"; break;
    case Code::kNoSpace: name = "No space"; break;
  }
  return std::string(name) + ": " + msg_;
}

Status Status::WithContext(std::string_view context) const {
  if (ok()) return *this;
  return Status(code_, std::string(context) + ": " + msg_);
}

}  // namespace vdb
