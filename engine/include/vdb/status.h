// Status and Result<T>: how every vdb library call reports success or failure.
// The library never throws; callers check the returned value ([[nodiscard]]).
#pragma once

#include <cassert>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

namespace vdb {

class [[nodiscard]] Status {
 public:
  enum class Code : unsigned char {
    kOk = 0,
    kNotFound,
    kCorruption,       // bytes on disk are not what the format says
    kIOError,          // the operating system refused (errno in the message)
    kInvalidArgument,  // the caller passed something wrong
    kNotSupported,     // e.g. a newer format version
    kBusy,             // another process holds the write lock
    kReadOnly,         // the database was opened read-only / is poisoned
    kNoSpace,          // ENOSPC
  };

  Status() = default;
  static Status Ok() { return Status(); }
  static Status NotFound(std::string m) { return Status(Code::kNotFound, std::move(m)); }
  static Status Corruption(std::string m) { return Status(Code::kCorruption, std::move(m)); }
  static Status IOError(std::string m) { return Status(Code::kIOError, std::move(m)); }
  static Status InvalidArgument(std::string m) { return Status(Code::kInvalidArgument, std::move(m)); }
  static Status NotSupported(std::string m) { return Status(Code::kNotSupported, std::move(m)); }
  static Status Busy(std::string m) { return Status(Code::kBusy, std::move(m)); }
  static Status ReadOnly(std::string m) { return Status(Code::kReadOnly, std::move(m)); }
  static Status NoSpace(std::string m) { return Status(Code::kNoSpace, std::move(m)); }
  // From an errno value: ENOSPC maps to kNoSpace, the rest to kIOError.
  static Status FromErrno(int err, std::string_view context);

  bool ok() const { return code_ == Code::kOk; }
  Code code() const { return code_; }
  bool IsNotFound() const { return code_ == Code::kNotFound; }
  bool IsCorruption() const { return code_ == Code::kCorruption; }
  bool IsIOError() const { return code_ == Code::kIOError; }
  bool IsInvalidArgument() const { return code_ == Code::kInvalidArgument; }
  bool IsNotSupported() const { return code_ == Code::kNotSupported; }
  bool IsBusy() const { return code_ == Code::kBusy; }
  bool IsReadOnly() const { return code_ == Code::kReadOnly; }
  bool IsNoSpace() const { return code_ == Code::kNoSpace; }
  const std::string& message() const { return msg_; }
  // "Corruption: <message>" etc.
  std::string ToString() const;
  // Returns a copy with "context: " put in front of the message.
  Status WithContext(std::string_view context) const;

 private:
  Status(Code c, std::string m) : code_(c), msg_(std::move(m)) {}
  Code code_ = Code::kOk;
  std::string msg_;
};

// Result<T> holds either a T or a non-OK Status (modelled on absl::StatusOr).
template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : value_(std::move(value)) {}  // NOLINT: implicit by design
  Result(Status status) : status_(std::move(status)) {  // NOLINT
    assert(!status_.ok() && "Result constructed from an OK status");
    if (status_.ok()) status_ = Status::InvalidArgument("Result built from OK status");
  }
  bool ok() const { return value_.has_value(); }
  const Status& status() const { return status_; }
  T& value() & { assert(ok()); return *value_; }
  const T& value() const& { assert(ok()); return *value_; }
  T&& value() && { assert(ok()); return std::move(*value_); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }

 private:
  Status status_;
  std::optional<T> value_;
};

}  // namespace vdb

// Propagate a non-OK Status from an expression returning Status.
#define VDB_RETURN_IF_ERROR(expr)              \
  do {                                         \
    ::vdb::Status _vdb_st = (expr);            \
    if (!_vdb_st.ok()) return _vdb_st;         \
  } while (0)

#define VDB_CONCAT_INNER_(a, b) a##b
#define VDB_CONCAT_(a, b) VDB_CONCAT_INNER_(a, b)
// VDB_ASSIGN_OR_RETURN(auto x, MakeX()); declares x or returns the error.
#define VDB_ASSIGN_OR_RETURN(lhs, expr) \
  VDB_ASSIGN_OR_RETURN_IMPL_(VDB_CONCAT_(_vdb_res_, __LINE__), lhs, expr)
#define VDB_ASSIGN_OR_RETURN_IMPL_(tmp, lhs, expr) \
  auto tmp = (expr);                               \
  if (!tmp.ok()) return tmp.status();              \
  lhs = std::move(tmp).value()
