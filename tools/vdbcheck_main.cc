// vdbcheck: check a vdb database file (and its WAL), or repair it.
// See docs/vdbcheck.md. Exit status: 0 consistent, 1 damage found, 2 could
// not read the file or bad usage.
#include <CLI/CLI.hpp>
#include <cstdio>
#include <iostream>

#include "recovery/checker.h"
#include "tools/lib/check_repair.h"

int main(int argc, char** argv) {
  CLI::App app{"vdbcheck: check a vdb database file and its WAL, read-only; or salvage it into a fresh file"};
  std::string file, repair_out, wal_path, backup;
  bool json = false, quiet = false, no_records = false, in_place = false, keep_unverified = false;
  size_t max_findings = 1000;
  app.add_option("FILE", file, "database file")->required();
  app.add_flag("--json", json, "print the report as JSON");
  app.add_flag("-q,--quiet", quiet, "print only the summary line");
  app.add_flag("--no-records", no_records, "skip reading vectors and metadata (faster; record checks not verified)");
  app.add_option("--max-findings", max_findings, "findings listed (all are counted)")->check(CLI::PositiveNumber);
  app.add_option("--wal", wal_path, "the WAL file (default FILE-wal)");
  app.add_option("--repair", repair_out, "salvage every trustworthy record into a new database OUT");
  app.add_flag("--in-place", in_place, "repair FILE itself, keeping the original as FILE.bak (see --backup)");
  app.add_option("--backup", backup, "where --in-place keeps the original");
  app.add_flag("--keep-unverified", keep_unverified,
               "repair: also save records whose record check fails but that decode");
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    app.exit(e);
    return 2;
  }
  if (!repair_out.empty() && in_place) {
    std::cerr << "vdbcheck: --repair OUT and --in-place are exclusive\n";
    return 2;
  }
  if (!wal_path.empty() && (in_place || !repair_out.empty())) {
    std::cerr << "vdbcheck: --wal applies to checking only\n";
    return 2;
  }

  if (in_place || !repair_out.empty()) {
    vdb::tools::RepairOptions ro;
    ro.in_place = in_place;
    ro.backup_path = backup;
    ro.keep_unverified = keep_unverified;
    vdb::tools::RepairReport rep = vdb::tools::RepairFile(file, repair_out, ro);
    if (json)
      std::cout << rep.ToJson() << "\n";
    else
      std::cout << rep.ToText();
    return rep.ExitCode();
  }

  vdb::recovery::CheckOptions opts;
  opts.wal_path = wal_path;
  opts.max_findings = max_findings;
  opts.verify_records = !no_records;
  vdb::recovery::CheckReport report = vdb::recovery::CheckFile(file, opts);
  if (json)
    std::cout << report.ToJson() << "\n";
  else if (quiet)
    std::cout << report.Summary() << "\n";
  else
    std::cout << report.ToText();
  return report.ExitCode();
}
