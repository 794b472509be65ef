#include "engine/embed/file_util.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>

namespace vdb::embed {

Result<std::string> ReadFileToString(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    int err = errno;
    if (err == ENOENT) return Status::NotFound(path + ": no such file");
    return Status::FromErrno(err, path);
  }
  std::string data;
  struct stat st;
  if (::fstat(fd, &st) == 0 && st.st_size > 0) {
    data.reserve(static_cast<size_t>(st.st_size));
  }
  char buf[1 << 16];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof(buf));
    if (n < 0) {
      if (errno == EINTR) continue;
      int err = errno;
      ::close(fd);
      return Status::FromErrno(err, path);
    }
    if (n == 0) break;
    data.append(buf, static_cast<size_t>(n));
  }
  ::close(fd);
  return data;
}

bool PathIsDirectory(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

bool PathIsFile(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode);
}

std::string JoinPath(std::string_view a, std::string_view b) {
  std::string out(a);
  if (!out.empty() && out.back() != '/') out.push_back('/');
  out.append(b);
  return out;
}

Result<nlohmann::json> ParseJson(std::string_view text, std::string_view what) {
  try {
    return nlohmann::json::parse(text.begin(), text.end());
  } catch (const nlohmann::json::parse_error& e) {
    return Status::InvalidArgument(std::string(what) + ": invalid JSON at byte " +
                                   std::to_string(e.byte));
  } catch (const std::exception& e) {
    return Status::InvalidArgument(std::string(what) + ": invalid JSON: " + e.what());
  }
}

Result<nlohmann::json> ReadJsonFile(const std::string& path) {
  VDB_ASSIGN_OR_RETURN(std::string text, ReadFileToString(path));
  return ParseJson(text, path);
}

namespace {
const nlohmann::json* Find(const nlohmann::json& obj, std::string_view key) {
  if (!obj.is_object()) return nullptr;
  auto it = obj.find(key);
  if (it == obj.end() || it->is_null()) return nullptr;
  return &*it;
}
Status WrongType(std::string_view what, std::string_view key,
                 std::string_view want) {
  return Status::InvalidArgument(std::string(what) + ": field \"" +
                                 std::string(key) + "\" must be " +
                                 std::string(want));
}
}  // namespace

Result<int64_t> JsonInt(const nlohmann::json& obj, std::string_view key,
                        int64_t fallback, std::string_view what) {
  const nlohmann::json* v = Find(obj, key);
  if (v == nullptr) return fallback;
  if (!v->is_number_integer()) return WrongType(what, key, "an integer");
  if (v->is_number_unsigned() &&
      v->get<uint64_t>() > static_cast<uint64_t>(INT64_MAX)) {
    return WrongType(what, key, "an integer below 2^63");
  }
  return v->get<int64_t>();
}

Result<int64_t> JsonRequiredInt(const nlohmann::json& obj, std::string_view key,
                                std::string_view what) {
  if (Find(obj, key) == nullptr) {
    return Status::InvalidArgument(std::string(what) + ": missing field \"" +
                                   std::string(key) + "\"");
  }
  return JsonInt(obj, key, 0, what);
}

Result<double> JsonDouble(const nlohmann::json& obj, std::string_view key,
                          double fallback, std::string_view what) {
  const nlohmann::json* v = Find(obj, key);
  if (v == nullptr) return fallback;
  if (!v->is_number()) return WrongType(what, key, "a number");
  return v->get<double>();
}

Result<bool> JsonBool(const nlohmann::json& obj, std::string_view key,
                      bool fallback, std::string_view what) {
  const nlohmann::json* v = Find(obj, key);
  if (v == nullptr) return fallback;
  if (!v->is_boolean()) return WrongType(what, key, "true or false");
  return v->get<bool>();
}

Result<std::string> JsonString(const nlohmann::json& obj, std::string_view key,
                               std::string fallback, std::string_view what) {
  const nlohmann::json* v = Find(obj, key);
  if (v == nullptr) return fallback;
  if (!v->is_string()) return WrongType(what, key, "a string");
  return v->get<std::string>();
}

}  // namespace vdb::embed
