// Small file helpers for the embedding module: whole-file reads, path tests
// and JSON parsing that reports errors as Status (never throws).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "vdb/status.h"

namespace vdb::embed {

// Reads the whole file. NotFound if it does not exist, IOError otherwise.
Result<std::string> ReadFileToString(const std::string& path);
bool PathIsDirectory(const std::string& path);
bool PathIsFile(const std::string& path);
// a + "/" + b, without doubling the separator.
std::string JoinPath(std::string_view a, std::string_view b);

// Parses JSON text; the error names `what` (usually the file path) and the
// byte offset of the problem.
Result<nlohmann::json> ParseJson(std::string_view text, std::string_view what);
// ReadFileToString + ParseJson.
Result<nlohmann::json> ReadJsonFile(const std::string& path);

// Typed field readers for JSON objects. Each returns InvalidArgument naming
// `what` and the key when the field has the wrong type; a missing field gives
// `fallback` (or an error for the Required variants).
Result<int64_t> JsonInt(const nlohmann::json& obj, std::string_view key,
                        int64_t fallback, std::string_view what);
Result<int64_t> JsonRequiredInt(const nlohmann::json& obj, std::string_view key,
                                std::string_view what);
Result<double> JsonDouble(const nlohmann::json& obj, std::string_view key,
                          double fallback, std::string_view what);
Result<bool> JsonBool(const nlohmann::json& obj, std::string_view key,
                      bool fallback, std::string_view what);
Result<std::string> JsonString(const nlohmann::json& obj, std::string_view key,
                               std::string fallback, std::string_view what);

}  // namespace vdb::embed
