// medvault import: streams NDJSON and Bundle files into the vault.
//
// Transaction boundary (docs/architecture.md, "Import"): valid resources are
// committed in batches of up to kBatch in one database transaction each, with
// their audit entries; a rejected line never affects another line; the
// entries of a transaction Bundle are committed together or not at all. A
// crash loses at most the batch in flight, and never leaves part of a
// resource.
//
// After the files, the sealed policy-facts summaries of every patient whose
// compartment the import touched are built (Repository::warm_access_facts),
// so that a freshly imported vault answers its first reads warm.
#include "cli/import.h"

#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <set>
#include <unordered_map>

#include "fhir/import_reader.h"
#include "fhir/resource.h"

namespace medvault::cli {
namespace {

constexpr size_t kBatch = 1000;
// Patients whose facts summaries are built after the import, at most (ids
// only; beyond it, patients warm on their first access).
constexpr size_t kMaxWarmPatients = 1'000'000;

class Progress {
 public:
  Progress() : tty_(::isatty(STDERR_FILENO) == 1), start_(clock::now()), last_(start_) {}

  void tick(uint64_t done, uint64_t bytes, uint64_t total_bytes) {
    if (!tty_) return;
    auto now = clock::now();
    if (now - last_ < std::chrono::milliseconds(250)) return;
    last_ = now;
    double secs = std::chrono::duration<double>(now - start_).count();
    std::fprintf(stderr, "\r%llu resources, %.0f/s, %.0f%%   ",
                 static_cast<unsigned long long>(done), secs > 0 ? done / secs : 0.0,
                 total_bytes ? 100.0 * static_cast<double>(bytes) / static_cast<double>(total_bytes) : 100.0);
  }
  void clear() {
    if (tty_) std::fprintf(stderr, "\r%60s\r", "");
  }
  double elapsed() const { return std::chrono::duration<double>(clock::now() - start_).count(); }

 private:
  using clock = std::chrono::steady_clock;
  bool tty_;
  clock::time_point start_, last_;
};

struct Seen {
  uint32_t file;
  uint64_t line;
};

}  // namespace

Result<ImportSummary> run_import(vault::Repository& repo, const vault::RequestContext& ctx,
                                 const std::vector<std::string>& files) {
  ImportSummary sum;
  Progress progress;
  std::vector<fhir::Resource> batch;
  // First place each type/id was seen in this import, to reject duplicates.
  std::unordered_map<std::string, Seen> seen;
  Status failure = ok_status();
  std::set<std::string> patients;  // compartments touched, for warm_access_facts

  auto flush = [&]() -> Status {
    if (batch.empty()) return ok_status();
    size_t n = batch.size();
    for (const auto& r : batch)
      if (patients.size() < kMaxWarmPatients)
        if (auto p = fhir::patient_of(r)) patients.insert(std::move(*p));
    MV_ASSIGN(auto st, repo.import_batch(ctx, std::move(batch)));
    batch.clear();
    sum.created += st.created;
    sum.updated += st.updated;
    sum.unchanged += st.unchanged;
    sum.accepted += n;
    return ok_status();
  };
  auto reject = [&](const std::string& file, uint64_t line, const std::string& why) {
    progress.clear();
    std::fprintf(stderr, "%s:%llu: %s\n", file.c_str(), static_cast<unsigned long long>(line), why.c_str());
    ++sum.rejected;
  };

  for (uint32_t fi = 0; fi < files.size(); ++fi) {
    const auto& file = files[fi];
    auto reader = fhir::ImportReader::open(file);
    if (!reader.ok()) {
      reject(file, 0, reader.error().message);
      continue;
    }
    // A transaction Bundle's entries, held until the Bundle ends.
    uint64_t group = 0;
    std::vector<fhir::Resource> group_items;
    std::string group_error;
    auto end_group = [&]() -> Status {
      if (group == 0) return ok_status();
      if (!group_error.empty()) {
        reject(file, 0, "transaction Bundle rejected as a whole: " + group_error);
        sum.rejected += group_items.size();
      } else {
        MV_TRY(flush());
        batch = std::move(group_items);
        MV_TRY(flush());
      }
      group = 0;
      group_items.clear();
      group_error.clear();
      return ok_status();
    };

    while (auto item = (*reader)->next()) {
      if (item->transaction_group != group) MV_TRY(end_group());
      group = item->transaction_group;
      if (!item->resource.ok()) {
        if (group) group_error = "entry " + std::to_string(item->line) + ": " + item->resource.error().message;
        else reject(file, item->line, item->resource.error().message);
        continue;
      }
      auto& r = *item->resource;
      std::string key = r.type + "/" + r.id;
      auto [it, fresh] = seen.emplace(std::move(key), Seen{fi, item->line});
      if (!fresh) {
        std::string why = "duplicate id " + it->first + " (first at " + files[it->second.file] + ":" +
                          std::to_string(it->second.line) + ")";
        if (group) group_error = "entry " + std::to_string(item->line) + ": " + why;
        else reject(file, item->line, why);
        continue;
      }
      if (group) {
        group_items.push_back(std::move(r));
        continue;
      }
      batch.push_back(std::move(r));
      if (batch.size() >= kBatch) {
        failure = flush();
        if (!failure.ok()) return failure.take_error();
      }
      progress.tick(sum.accepted + batch.size(), (*reader)->bytes_read(), (*reader)->bytes_total());
    }
    MV_TRY(end_group());
  }
  MV_TRY(flush());
  progress.clear();
  // The data is committed: a summary that cannot be built only costs a
  // slower first access.
  if (auto st = repo.warm_access_facts(ctx, std::vector<std::string>(patients.begin(), patients.end())); !st.ok())
    std::fprintf(stderr, "warning: policy facts summaries not built: %s\n", st.error().message.c_str());
  sum.seconds = progress.elapsed();
  return sum;
}

}  // namespace medvault::cli
