// The audit log of the SQLite engine: append-only segment files beside the
// database (`<vault.db>-audit/`), not a table in it. Internal to the engine
// (sqlite_store.cc); the format is docs/formats/audit.md, section 3.
//
// Why not a table: every read of patient data appends an entry, and every
// SQLite commit makes every reader connection drop its page cache, so reads
// re-read their b-tree pages from the kernel after each group commit, and
// the entries cost b-tree inserts, WAL frames and checkpoint copies. Here an
// append is one pwrite and a group fdatasync; the database changes only when
// patient data, accounts or the log's query indexes do (BENCHMARKS.md).
//
// Segment k (`%010u.log`) holds entries k*2^16+1 .. (k+1)*2^16: a 16-byte
// header ("MVAUDIT1", u64 first seq), then records. Seq -> record is
// arithmetic to the segment, then an in-memory mark every 64 records.
//
// Queries by patient, account or time: a full segment gets an index file
// (`%010u.idx`: sorted (key hash, position) pairs and its time range),
// written once, off the appender's path, by a thread of the process that
// filled it (or by the first query that needs it); the open segment is
// indexed in memory. Index files are derived data: one that is missing,
// damaged or stale is rebuilt from its segment, and a hit is always checked
// against the record itself.
//
// Concurrency: appends and truncations need the store's writer lock (the
// SQLite write lock: one appender across processes); readers need nothing
// and see complete records only (a record being written reads as the end).
// All methods are thread-safe.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_map>
#include <vector>

#include "common/result.h"
#include "store/group_sync.h"
#include "store/store.h"

namespace medvault::store {

class AuditFiles {
 public:
  static constexpr uint64_t kSegmentEntries = uint64_t{1} << 16;
  static constexpr size_t kMaxRecord = size_t{1} << 22;  // 4 MiB

  // Opens the log in `dir`, creating the directory (mode 0700) if needed.
  static Result<std::unique_ptr<AuditFiles>> open(const std::filesystem::path& dir);
  ~AuditFiles();
  AuditFiles(const AuditFiles&) = delete;
  AuditFiles& operator=(const AuditFiles&) = delete;

  // Entries as this process last saw them (no I/O) ...
  uint64_t size() const;
  // ... and after reading what other processes appended since.
  Result<uint64_t> refresh();

  // Writes rows at the end, not synced. REQUIRES the writer lock, refresh()
  // under it, and rows[i].seq == size() + 1 + i (Errc::conflict otherwise:
  // a sequence number is never reused). A failed write leaves the files as
  // they were.
  Status append(std::span<const AuditRow> rows);
  // Returns once everything appended before the call is on disk (one
  // fdatasync shared by concurrent callers; none when nothing is new).
  Status sync();
  // Entries known to be on disk (synced by this process).
  uint64_t durable() const;
  // Drops the entries after n (a transaction whose COMMIT failed after its
  // entries were written), synced. REQUIRES the writer lock.
  Status truncate(uint64_t n);

  // At open, under the writer lock: a power cut can leave the last segment
  // with a torn record, trailing zeros or a half-written header. Every
  // record carries a checksum (BLAKE2b-64), so what a torn write leaves is
  // told apart from a well-formed record: the bytes after the last complete
  // record that passes its check are cut off, unless they begin at or
  // before entry `trusted` (the newest signed checkpoint, committed only
  // once the entries it covers were on disk: there they are damage, kept
  // for `audit verify`). A well-formed record with a wrong leaf hash or
  // chain is never cut: the log refuses appends after it (fail closed).
  // Returns the bytes cut off.
  Result<uint64_t> repair_tail(uint64_t trusted);

  // Visits entries first_seq .. first_seq+count-1 that exist, in order,
  // without copies (views valid during the call); stops early if fn is
  // false. Errc::integrity naming the entry for a missing segment, a
  // malformed record or a record out of place.
  Status scan(uint64_t first_seq, uint64_t count, const std::function<bool(const AuditRowView&)>& fn);

  // The files and byte lengths holding entries 1..n (backup snapshots).
  struct Extent {
    std::string name;  // segment file name
    uint64_t bytes = 0;
  };
  Result<std::vector<Extent>> extents(uint64_t n);

  // Sequence numbers of the entries naming this patient, this account, or
  // with time in [from_ms, to_ms), newest first, at most `limit`.
  enum class Key { patient, user };
  Result<std::vector<uint64_t>> find(Key key, std::string_view value, size_t limit);
  Result<std::vector<uint64_t>> find_time(int64_t from_ms, int64_t to_ms, size_t limit);

  // Deletes every segment (an interrupted migration redone). REQUIRES the
  // writer lock.
  Status remove_all();

  const std::filesystem::path& dir() const { return dir_; }

 private:
  struct Segment;
  struct Fd;
  explicit AuditFiles(std::filesystem::path dir);
  Status load_segments();
  Status parse_tail_locked();
  Status truncate_to_locked(uint64_t n);
  Status index_segment(uint64_t k);
  Status stream_segment(uint64_t k, uint64_t last, uint64_t& seq,
                        const std::function<bool(const AuditRowView&)>& fn);
  Result<uint64_t> locate_locked(uint64_t k, uint64_t pos, int fd);
  Status sync_tail();
  struct SegmentIndex;
  Result<std::shared_ptr<const SegmentIndex>> segment_index(uint64_t k);
  bool index_fresh(uint64_t k, uint64_t segment_bytes) const;
  Status index_tail_locked();
  void indexer_loop();
  void request_index();

  const std::filesystem::path dir_;
  mutable std::mutex mu_;
  std::vector<Segment> segs_;   // segs_[k] is segment k; guarded by mu_
  std::shared_ptr<Fd> tail_;    // the last segment, read-write; guarded by mu_
  uint64_t size_ = 0;           // guarded by mu_
  uint64_t durable_ = 0;        // guarded by mu_
  // The open segment's keys: hash -> positions, for records [0, tail_indexed_).
  std::unordered_map<uint64_t, std::vector<uint32_t>> tail_keys_;  // guarded by mu_
  uint64_t tail_keyed_segment_ = UINT64_MAX;                          // guarded by mu_
  uint64_t tail_indexed_ = 0;                                         // guarded by mu_
  std::map<uint64_t, std::shared_ptr<const SegmentIndex>> indexes_;   // loaded; guarded by mu_
  // The background indexer: started when this process fills a segment.
  std::mutex ix_mu_;
  std::condition_variable ix_cv_;
  bool ix_wanted_ = false, ix_stop_ = false;  // guarded by ix_mu_
  std::thread indexer_;
  GroupSync sync_;
};

}  // namespace medvault::store
