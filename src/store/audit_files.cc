#include "store/audit_files.h"

#include <fcntl.h>
#include <sodium.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>

namespace medvault::store {

namespace fs = std::filesystem;

namespace {

constexpr char kMagic[8] = {'M', 'V', 'A', 'U', 'D', 'I', 'T', '1'};
constexpr uint64_t kFileHeader = 16;
// u32 length, u64 check, u64 seq, i64 time, u32 entry length, u16 patient
// length, u16 user length, leaf hash, chain; then patient, user and entry
// bytes. check = BLAKE2b-64 of everything after it: a torn write fails it,
// a forged record would need the MAC chain.
constexpr uint64_t kRecordHeader = 4 + 8 + 8 + 8 + 4 + 2 + 2 + 32 + 32;
constexpr uint64_t kChecked = 12;  // offset of the checked bytes
constexpr uint64_t kMarkEvery = 64;
constexpr size_t kReadChunk = size_t{1} << 20;
constexpr uint64_t S = AuditFiles::kSegmentEntries;

void put_le(std::string& out, uint64_t v, int bytes) {
  for (int i = 0; i < bytes; ++i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}
uint64_t get_le(const char* p, int bytes) {
  uint64_t v = 0;
  for (int i = bytes - 1; i >= 0; --i) v = (v << 8) | static_cast<unsigned char>(p[i]);
  return v;
}

std::string segment_name(uint64_t k) {
  char b[32];
  std::snprintf(b, sizeof b, "%010llu.log", static_cast<unsigned long long>(k));
  return b;
}

std::string index_name(uint64_t k) {
  char b[32];
  std::snprintf(b, sizeof b, "%010llu.idx", static_cast<unsigned long long>(k));
  return b;
}

// An index file: "MVAIDX01", u64 first seq, u64 bytes of the segment it was
// made from, u32 records, u32 n, i64 min time, i64 max time; n postings
// (u64 key hash, u32 position) sorted; u64 BLAKE2b-64 of all before.
constexpr char kIndexMagic[8] = {'M', 'V', 'A', 'I', 'D', 'X', '0', '1'};
constexpr uint64_t kIndexHeader = 8 + 8 + 8 + 4 + 4 + 8 + 8;
constexpr uint64_t kPosting = 12;

uint64_t key_hash(char kind, std::string_view value) {
  unsigned char h[8];
  crypto_generichash_state st;
  crypto_generichash_init(&st, nullptr, 0, sizeof h);
  const unsigned char prefix[2] = {static_cast<unsigned char>(kind), ':'};
  crypto_generichash_update(&st, prefix, 2);
  crypto_generichash_update(&st, reinterpret_cast<const unsigned char*>(value.data()), value.size());
  crypto_generichash_final(&st, h, sizeof h);
  uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | h[i];
  return v;
}

std::string file_header(uint64_t k) {
  std::string h(kMagic, sizeof kMagic);
  put_le(h, k * S + 1, 8);
  return h;
}

Error io_error(const std::string& what) {
  return make_error(Errc::io, "audit log: " + what + ": " + std::strerror(errno));
}

Error entry_error(uint64_t seq, const std::string& why) {
  return make_error(Errc::integrity, "audit entry " + std::to_string(seq) + ": " + why);
}

Status write_all(int fd, const char* p, size_t n, uint64_t off) {
  while (n > 0) {
    const ssize_t w = ::pwrite(fd, p, n, static_cast<off_t>(off));
    if (w < 0) {
      if (errno == EINTR) continue;
      return io_error(errno == ENOSPC ? "cannot write (disk full)" : "cannot write");
    }
    p += w;
    n -= static_cast<size_t>(w);
    off += static_cast<uint64_t>(w);
  }
  return ok_status();
}

Status sync_dir(const fs::path& dir) {
  const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return io_error("cannot open its directory");
  const int rc = ::fsync(fd);
  ::close(fd);
  if (rc != 0) return io_error("cannot sync its directory");
  return ok_status();
}

Result<uint64_t> file_size(int fd) {
  struct stat st{};
  if (::fstat(fd, &st) != 0) return io_error("cannot stat a segment");
  return static_cast<uint64_t>(st.st_size);
}

uint64_t record_check(const char* p, size_t n) {
  unsigned char h[8];
  crypto_generichash(h, sizeof h, reinterpret_cast<const unsigned char*>(p), n, nullptr, 0);
  return get_le(reinterpret_cast<const char*>(h), 8);
}

// Reads the records of one segment file in order, from `off` up to `limit`.
class RecordReader {
 public:
  enum Next { kRecord, kEnd, kTorn, kBad };

  RecordReader(int fd, uint64_t off, uint64_t limit) : fd_(fd), pos_(off), limit_(limit) {}

  // kRecord: `v` is the record at offset rec_off() (valid until the next
  // call); kEnd: exactly at `limit`; kTorn: the bytes left are a record's
  // beginning only, or the record at pos() is malformed or fails its check
  // (why()): what a torn write leaves; kBad: the file cannot be read.
  Next next(AuditRowView& v) {
    if (pos_ >= limit_) return kEnd;
    if (limit_ - pos_ < 4) return kTorn;
    if (!fill(pos_, 4)) return kBad;
    const uint64_t len = get_le(at(pos_), 4);
    if (len < kRecordHeader || len > AuditFiles::kMaxRecord) {
      why_ = "malformed record length";
      return kTorn;
    }
    if (limit_ - pos_ < len) {
      why_ = "incomplete record";
      return kTorn;
    }
    if (!fill(pos_, len)) return kBad;
    const char* p = at(pos_);
    const uint64_t elen = get_le(p + 28, 4), plen = get_le(p + 32, 2), ulen = get_le(p + 34, 2);
    if (kRecordHeader + plen + ulen + elen != len) {
      why_ = "malformed record";
      return kTorn;
    }
    if (record_check(p + kChecked, len - kChecked) != get_le(p + 4, 8)) {
      why_ = "record fails its check";
      return kTorn;
    }
    v.seq = get_le(p + 12, 8);
    v.time_ms = static_cast<int64_t>(get_le(p + 20, 8));
    v.leaf_hash = std::string_view(p + 36, 32);
    v.chain = std::string_view(p + 68, 32);
    const char* q = p + kRecordHeader;
    v.patient = std::string_view(q, plen);
    v.user = std::string_view(q + plen, ulen);
    v.entry = std::string_view(q + plen + ulen, elen);
    rec_off_ = pos_;
    pos_ += len;
    return kRecord;
  }

  uint64_t pos() const { return pos_; }
  uint64_t rec_off() const { return rec_off_; }
  const std::string& why() const { return why_; }

 private:
  const char* at(uint64_t off) const { return buf_.data() + (off - buf_off_); }
  // Makes buf_ hold [off, off + n).
  bool fill(uint64_t off, uint64_t n) {
    if (off >= buf_off_ && off + n <= buf_off_ + buf_.size()) return true;
    const uint64_t want = std::min<uint64_t>(std::max<uint64_t>(n, kReadChunk), limit_ - off);
    buf_.resize(want);
    buf_off_ = off;
    size_t got = 0;
    while (got < want) {
      const ssize_t r = ::pread(fd_, buf_.data() + got, want - got, static_cast<off_t>(off + got));
      if (r < 0 && errno == EINTR) continue;
      if (r <= 0) {
        why_ = r < 0 ? std::string("read error: ") + std::strerror(errno) : "segment shorter than expected";
        buf_.clear();
        return false;
      }
      got += static_cast<size_t>(r);
    }
    return true;
  }

  int fd_;
  uint64_t pos_, limit_, rec_off_ = 0;
  std::string buf_;
  uint64_t buf_off_ = 0;
  std::string why_;
};

}  // namespace

struct AuditFiles::Fd {
  int fd = -1;
  explicit Fd(int f) : fd(f) {}
  ~Fd() {
    if (fd >= 0) ::close(fd);
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
};

struct AuditFiles::Segment {
  bool present = false;     // the file exists
  bool indexed = false;     // count, end and marks describe the file
  bool bad_header = false;  // not a segment of this position
  uint64_t count = 0;       // complete records
  uint64_t end = kFileHeader;  // offset after the last of them
  uint64_t file_bytes = 0;  // file size when last parsed (> end: a torn or damaged tail)
  std::vector<uint64_t> marks;  // offset of record i * kMarkEvery
};

AuditFiles::AuditFiles(fs::path dir) : dir_(std::move(dir)), sync_([this] { return sync_tail(); }) {}
AuditFiles::~AuditFiles() {
  {
    std::lock_guard<std::mutex> lock(ix_mu_);
    ix_stop_ = true;
  }
  ix_cv_.notify_one();
  if (indexer_.joinable()) indexer_.join();
}

Result<std::unique_ptr<AuditFiles>> AuditFiles::open(const fs::path& dir) {
  std::error_code ec;
  if (!fs::exists(dir, ec)) {
    if (::mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST) return io_error("cannot create " + dir.string());
    if (dir.has_parent_path()) MV_TRY(sync_dir(dir.parent_path()));
  } else if (!fs::is_directory(dir, ec)) {
    return make_error(Errc::io, "audit log: " + dir.string() + " is not a directory");
  }
  std::unique_ptr<AuditFiles> f(new AuditFiles(dir));
  std::lock_guard<std::mutex> lock(f->mu_);
  MV_TRY(f->load_segments());
  return f;
}

// REQUIRES mu_.
Status AuditFiles::load_segments() {
  segs_.clear();
  tail_.reset();
  size_ = durable_ = 0;
  std::error_code ec;
  uint64_t last = 0;
  bool any = false;
  std::vector<uint64_t> found;
  for (fs::directory_iterator it(dir_, ec), e; !ec && it != e; it.increment(ec)) {
    const std::string n = it->path().filename().string();
    if (n.size() != 14 || !n.ends_with(".log") || n.find_first_not_of("0123456789") != 10) continue;
    const uint64_t k = std::stoull(n.substr(0, 10));
    found.push_back(k);
    last = any ? std::max(last, k) : k;
    any = true;
  }
  if (ec) return make_error(Errc::io, "audit log: cannot list " + dir_.string());
  if (!any) return ok_status();
  segs_.resize(last + 1);
  for (uint64_t k : found) segs_[k].present = true;
  const int fd = ::open((dir_ / segment_name(last)).c_str(), O_RDWR | O_CLOEXEC);
  if (fd < 0) return io_error("cannot open " + segment_name(last));
  tail_ = std::make_shared<Fd>(fd);
  return parse_tail_locked();
}

// Reads the last segment from its known end. REQUIRES mu_ and tail_.
Status AuditFiles::parse_tail_locked() {
  const uint64_t k = segs_.size() - 1;
  Segment& s = segs_[k];
  MV_ASSIGN(const uint64_t bytes, file_size(tail_->fd));
  if (!s.indexed) {
    s.indexed = true;
    if (bytes >= kFileHeader) {
      char h[kFileHeader];
      if (::pread(tail_->fd, h, kFileHeader, 0) != static_cast<ssize_t>(kFileHeader))
        return io_error("cannot read " + segment_name(k));
      s.bad_header = std::string(h, kFileHeader) != file_header(k);
    }
  }
  if (bytes < s.end) {  // cut by someone else (a restore, a repair): read it again
    s.count = 0;
    s.end = kFileHeader;
    s.marks.clear();
    if (tail_keyed_segment_ == k) tail_keyed_segment_ = UINT64_MAX;
    indexes_.erase(k);
  }
  s.file_bytes = bytes;
  if (!s.bad_header && bytes > s.end) {
    RecordReader r(tail_->fd, s.end, bytes);
    AuditRowView v;
    while (s.count < S && r.next(v) == RecordReader::kRecord) {
      if (s.count % kMarkEvery == 0) s.marks.push_back(r.rec_off());
      ++s.count;
      s.end = r.pos();
    }
  }
  size_ = k * S + s.count;
  return ok_status();
}

uint64_t AuditFiles::size() const {
  std::lock_guard<std::mutex> lock(mu_);
  return size_;
}

Result<uint64_t> AuditFiles::refresh() {
  std::lock_guard<std::mutex> lock(mu_);
  if (!tail_) {
    std::error_code ec;
    if (fs::exists(dir_ / segment_name(0), ec)) MV_TRY(load_segments());
    return size_;
  }
  for (;;) {
    MV_TRY(parse_tail_locked());
    const uint64_t k = segs_.size() - 1;
    if (segs_[k].count < S) break;
    // Full: another process may have started the next segment.
    const int fd = ::open((dir_ / segment_name(k + 1)).c_str(), O_RDWR | O_CLOEXEC);
    if (fd < 0) break;
    segs_.emplace_back().present = true;
    tail_ = std::make_shared<Fd>(fd);
  }
  return size_;
}

Status AuditFiles::append(std::span<const AuditRow> rows) {
  if (rows.empty()) return ok_status();
  std::lock_guard<std::mutex> lock(mu_);
  const uint64_t before = size_;
  if (rows.front().seq != size_ + 1)
    return make_error(Errc::conflict, rows.front().seq <= size_
                                          ? "audit entry " + std::to_string(rows.front().seq) + " already exists"
                                          : "audit entries must follow entry " + std::to_string(size_));
  for (size_t i = 0; i < rows.size(); ++i) {
    const AuditRow& r = rows[i];
    if (r.seq != before + 1 + i) return make_error(Errc::conflict, "audit entries out of sequence");
    if (r.leaf_hash.size() != 32 || r.chain.size() != 32 || r.patient.size() > 0xffff || r.user.size() > 0xffff ||
        kRecordHeader + r.patient.size() + r.user.size() + r.entry.size() > kMaxRecord)
      return make_error(Errc::internal, "audit entry " + std::to_string(r.seq) + " does not fit a record");
  }
  std::string buf;
  size_t i = 0;
  bool filled = false;
  while (i < rows.size()) {
    const uint64_t k = (rows[i].seq - 1) / S;
    if (segs_.size() <= k) {  // the next segment: the previous one is full and goes to disk first
      if (tail_ && ::fdatasync(tail_->fd) != 0) {
        auto e = io_error("cannot sync a full segment");
        (void)truncate_to_locked(before);
        return e;
      }
      const fs::path path = dir_ / segment_name(k);
      const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
      if (fd < 0) {
        auto e = io_error("cannot create " + segment_name(k));
        (void)truncate_to_locked(before);
        return e;
      }
      auto f = std::make_shared<Fd>(fd);
      const std::string h = file_header(k);
      Status st = ::ftruncate(fd, 0) == 0 ? write_all(fd, h.data(), h.size(), 0) : io_error("cannot reset a segment");
      if (st.ok()) st = sync_dir(dir_);
      if (!st.ok()) {
        (void)truncate_to_locked(before);
        return st;
      }
      segs_.resize(k + 1);
      Segment& s = segs_[k];
      s.present = s.indexed = true;
      s.file_bytes = kFileHeader;
      tail_ = std::move(f);
    }
    Segment& s = segs_[k];
    if (s.bad_header) {
      (void)truncate_to_locked(before);
      return make_error(Errc::integrity, "audit log: " + segment_name(k) + " has a bad header; run medvault audit verify");
    }
    if (s.file_bytes > s.end && ::ftruncate(tail_->fd, static_cast<off_t>(s.end)) != 0) {
      auto e = io_error("cannot cut a torn record");  // left by a process that died writing
      (void)truncate_to_locked(before);
      return e;
    }
    buf.clear();
    const uint64_t start = s.end;
    uint64_t off = s.end;
    const size_t first = i;
    std::vector<uint64_t> new_marks;
    for (; i < rows.size() && (rows[i].seq - 1) / S == k; ++i) {
      const AuditRow& r = rows[i];
      const uint64_t len = kRecordHeader + r.patient.size() + r.user.size() + r.entry.size();
      if ((s.count + (i - first)) % kMarkEvery == 0) new_marks.push_back(off);
      const size_t rec = buf.size();
      put_le(buf, len, 4);
      put_le(buf, 0, 8);  // check, below
      put_le(buf, r.seq, 8);
      put_le(buf, static_cast<uint64_t>(r.time_ms), 8);
      put_le(buf, r.entry.size(), 4);
      put_le(buf, r.patient.size(), 2);
      put_le(buf, r.user.size(), 2);
      buf += r.leaf_hash;
      buf += r.chain;
      buf += r.patient;
      buf += r.user;
      buf += r.entry;
      const uint64_t check = record_check(buf.data() + rec + kChecked, len - kChecked);
      for (int b = 0; b < 8; ++b) buf[rec + 4 + b] = static_cast<char>((check >> (8 * b)) & 0xff);
      off += len;
    }
    if (auto st = write_all(tail_->fd, buf.data(), buf.size(), start); !st.ok()) {
      if (::ftruncate(tail_->fd, static_cast<off_t>(start)) != 0) s.file_bytes = start + buf.size();
      (void)truncate_to_locked(before);
      return st;
    }
    s.count += i - first;
    s.end = s.file_bytes = off;
    s.marks.insert(s.marks.end(), new_marks.begin(), new_marks.end());
    size_ = k * S + s.count;
    filled |= s.count == S;
  }
  if (filled) request_index();  // takes ix_mu_ only: no lock order with mu_
  return ok_status();
}

Status AuditFiles::sync_tail() {
  std::shared_ptr<Fd> f;
  uint64_t n = 0;
  {
    std::lock_guard<std::mutex> lock(mu_);
    f = tail_;
    n = size_;
  }
  if (f && ::fdatasync(f->fd) != 0) return io_error("cannot sync to disk");
  std::lock_guard<std::mutex> lock(mu_);
  durable_ = std::max(durable_, std::min(n, size_));
  return ok_status();
}

Status AuditFiles::sync() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (durable_ >= size_) return ok_status();
  }
  return sync_.sync_now();
}

uint64_t AuditFiles::durable() const {
  std::lock_guard<std::mutex> lock(mu_);
  return durable_;
}

Status AuditFiles::truncate(uint64_t n) {
  std::lock_guard<std::mutex> lock(mu_);
  return truncate_to_locked(n);
}

// REQUIRES mu_.
Status AuditFiles::truncate_to_locked(uint64_t n) {
  if (n >= size_ || !tail_) return ok_status();
  const uint64_t k = n / S, pos = n % S;  // entry n+1 is record `pos` of segment k
  bool unlinked = false;
  while (segs_.size() > k + 1) {
    if (::unlink((dir_ / segment_name(segs_.size() - 1)).c_str()) != 0 && errno != ENOENT)
      return io_error("cannot remove a segment");
    segs_.pop_back();
    unlinked = true;
  }
  ::unlink((dir_ / index_name(k)).c_str());  // made for a segment that was full
  indexes_.erase(indexes_.lower_bound(k), indexes_.end());
  if (tail_keyed_segment_ >= k) tail_keyed_segment_ = UINT64_MAX;
  if (unlinked) {
    const int fd = ::open((dir_ / segment_name(k)).c_str(), O_RDWR | O_CLOEXEC);
    if (fd < 0) return io_error("cannot open " + segment_name(k));
    tail_ = std::make_shared<Fd>(fd);
  }
  Segment& s = segs_[k];
  MV_ASSIGN(const uint64_t off, locate_locked(k, pos, tail_->fd));
  if (::ftruncate(tail_->fd, static_cast<off_t>(off)) != 0) return io_error("cannot truncate");
  if (::fdatasync(tail_->fd) != 0) return io_error("cannot sync to disk");
  if (unlinked) MV_TRY(sync_dir(dir_));
  s.count = pos;
  s.end = s.file_bytes = off;
  s.marks.resize((pos + kMarkEvery - 1) / kMarkEvery);
  size_ = n;
  durable_ = std::min(durable_, n);
  return ok_status();
}

// The offset of record `pos` of an indexed segment (its end when pos is
// its count). REQUIRES mu_.
Result<uint64_t> AuditFiles::locate_locked(uint64_t k, uint64_t pos, int fd) {
  const Segment& s = segs_[k];
  if (pos >= s.count) return s.end;
  uint64_t at = pos / kMarkEvery * kMarkEvery;
  RecordReader r(fd, s.marks[pos / kMarkEvery], s.end);
  AuditRowView v;
  for (; at < pos; ++at)
    if (r.next(v) != RecordReader::kRecord) return entry_error(k * S + at + 1, "malformed record");
  return r.pos();
}

Status AuditFiles::index_segment(uint64_t k) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (k >= segs_.size() || segs_[k].indexed || !segs_[k].present) return ok_status();
  }
  const int raw = ::open((dir_ / segment_name(k)).c_str(), O_RDONLY | O_CLOEXEC);
  if (raw < 0) return entry_error(k * S + 1, "its segment file " + segment_name(k) + " cannot be opened");
  Fd fd(raw);
  Segment s;
  s.present = s.indexed = true;
  MV_ASSIGN(s.file_bytes, file_size(fd.fd));
  char h[kFileHeader];
  s.bad_header = s.file_bytes < kFileHeader || ::pread(fd.fd, h, kFileHeader, 0) != static_cast<ssize_t>(kFileHeader) ||
                 std::string(h, kFileHeader) != file_header(k);
  if (!s.bad_header) {
    RecordReader r(fd.fd, kFileHeader, s.file_bytes);
    AuditRowView v;
    while (s.count < S && r.next(v) == RecordReader::kRecord) {
      if (s.count % kMarkEvery == 0) s.marks.push_back(r.rec_off());
      ++s.count;
      s.end = r.pos();
    }
  }
  std::lock_guard<std::mutex> lock(mu_);
  if (k < segs_.size() && !segs_[k].indexed) segs_[k] = std::move(s);
  return ok_status();
}

Status AuditFiles::scan(uint64_t first, uint64_t count, const std::function<bool(const AuditRowView&)>& fn) {
  MV_ASSIGN(const uint64_t total, refresh());
  if (first == 0) first = 1;
  if (count == 0 || first > total) return ok_status();
  const uint64_t last = count - 1 > total - first ? total : first + count - 1;
  uint64_t seq = first;
  while (seq <= last) {
    const uint64_t k = (seq - 1) / S, pos = (seq - 1) % S;
    bool indexed = false;
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (!segs_[k].present) return entry_error(seq, "its segment file " + segment_name(k) + " is missing");
      indexed = segs_[k].indexed;
    }
    // A segment read from its first entry needs no marks: it is read once,
    // and its marks are kept from that pass (audit verify, exports).
    if (!indexed && pos == 0) {
      MV_TRY(stream_segment(k, last, seq, fn));
      continue;
    }
    MV_TRY(index_segment(k));
    uint64_t mark = 0, at = 0, n = 0, end = 0;
    {
      std::lock_guard<std::mutex> lock(mu_);
      const Segment& s = segs_[k];
      if (s.bad_header) return entry_error(seq, "its segment file " + segment_name(k) + " has a bad header");
      if (pos >= s.count)
        return entry_error(seq, "missing (segment " + segment_name(k) + " holds " + std::to_string(s.count) + " entries)");
      at = pos / kMarkEvery * kMarkEvery;
      mark = s.marks[pos / kMarkEvery];
      n = s.count;
      end = s.end;
    }
    const int raw = ::open((dir_ / segment_name(k)).c_str(), O_RDONLY | O_CLOEXEC);
    if (raw < 0) return entry_error(seq, "its segment file " + segment_name(k) + " cannot be opened");
    Fd fd(raw);
    RecordReader r(fd.fd, mark, end);
    AuditRowView v;
    for (; seq <= last && at < n; ++at) {
      if (r.next(v) != RecordReader::kRecord)
        return entry_error(k * S + at + 1, "malformed record in " + segment_name(k) + " (" + r.why() + ")");
      if (at < pos) continue;
      if (!fn(v)) {
        seq = UINT64_MAX;
        break;
      }
      ++seq;
    }
    if (seq == UINT64_MAX) break;
  }
  return ok_status();
}

// scan() of segment k from its first entry while it has no marks: one pass
// that visits entries seq .. last (advancing seq; UINT64_MAX once fn stops)
// and, having seen the whole segment, keeps its marks.
Status AuditFiles::stream_segment(uint64_t k, uint64_t last, uint64_t& seq,
                                  const std::function<bool(const AuditRowView&)>& fn) {
  const int raw = ::open((dir_ / segment_name(k)).c_str(), O_RDONLY | O_CLOEXEC);
  if (raw < 0) return entry_error(seq, "its segment file " + segment_name(k) + " cannot be opened");
  Fd fd(raw);
  Segment s;
  s.present = s.indexed = true;
  MV_ASSIGN(s.file_bytes, file_size(fd.fd));
  char h[kFileHeader];
  if (s.file_bytes < kFileHeader || ::pread(fd.fd, h, kFileHeader, 0) != static_cast<ssize_t>(kFileHeader) ||
      std::string(h, kFileHeader) != file_header(k))
    return entry_error(seq, "its segment file " + segment_name(k) + " has a bad header");
  RecordReader r(fd.fd, kFileHeader, s.file_bytes);
  AuditRowView v;
  bool stopped = false;
  while (s.count < S && r.next(v) == RecordReader::kRecord) {
    if (s.count % kMarkEvery == 0) s.marks.push_back(r.rec_off());
    ++s.count;
    s.end = r.pos();
    if (stopped || seq > last) continue;  // read on for the marks
    if (!fn(v)) {
      stopped = true;
      seq = UINT64_MAX;
      continue;
    }
    ++seq;
  }
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (k < segs_.size() && !segs_[k].indexed) segs_[k] = std::move(s);
  }
  if (!stopped && seq <= last && seq <= (k + 1) * S)
    return entry_error(seq, "missing (segment " + segment_name(k) + " holds " + std::to_string(seq - 1 - k * S) +
                                " entries)");
  return ok_status();
}

Result<uint64_t> AuditFiles::repair_tail(uint64_t trusted) {
  std::lock_guard<std::mutex> lock(mu_);
  if (!tail_) return uint64_t{0};
  const uint64_t k = segs_.size() - 1;
  Segment& s = segs_[k];
  MV_ASSIGN(const uint64_t bytes, file_size(tail_->fd));
  if (bytes < kFileHeader) {  // created, header not (all) written: rewrite it
    const std::string h = file_header(k);
    if (::ftruncate(tail_->fd, 0) != 0) return io_error("cannot reset " + segment_name(k));
    MV_TRY(write_all(tail_->fd, h.data(), h.size(), 0));
    if (::fdatasync(tail_->fd) != 0) return io_error("cannot sync to disk");
    s = Segment{};
    s.present = s.indexed = true;
    s.file_bytes = kFileHeader;
    size_ = k * S;
    return bytes;
  }
  if (s.bad_header) return uint64_t{0};
  // The complete records end at s.end (parse_tail_locked); what follows is
  // torn. A well-formed record with a wrong hash or chain is not torn: it
  // stays, for `audit verify` to name (and the log refuses appends).
  if (bytes <= s.end) return uint64_t{0};
  // At or below a signed checkpoint a torn record is damage, not a power cut.
  if (s.count < S && k * S + s.count + 1 <= trusted) return uint64_t{0};
  if (::ftruncate(tail_->fd, static_cast<off_t>(s.end)) != 0) return io_error("cannot cut a torn tail");
  if (::fdatasync(tail_->fd) != 0) return io_error("cannot sync to disk");
  s.file_bytes = s.end;
  return bytes - s.end;
}

struct AuditFiles::SegmentIndex {
  uint64_t segment_bytes = 0;
  uint64_t n = 0;  // postings
  int64_t min_time = 0, max_time = 0;
};

namespace {

uint64_t key_of(AuditFiles::Key key, std::string_view value) {
  return key_hash(key == AuditFiles::Key::patient ? 'p' : 'u', value);
}

// Positions of the postings with this hash in an index file, ascending.
Result<std::vector<uint32_t>> lookup(int fd, uint64_t n, uint64_t hash) {
  auto at = [&](uint64_t i, char* out) {
    return ::pread(fd, out, kPosting, static_cast<off_t>(kIndexHeader + i * kPosting)) == static_cast<ssize_t>(kPosting);
  };
  char p[kPosting];
  uint64_t lo = 0, hi = n;
  while (lo < hi) {
    const uint64_t mid = lo + (hi - lo) / 2;
    if (!at(mid, p)) return io_error("cannot read an index file");
    if (get_le(p, 8) < hash) lo = mid + 1;
    else hi = mid;
  }
  std::vector<uint32_t> out;
  std::string buf;
  for (uint64_t i = lo; i < n;) {
    const uint64_t take = std::min<uint64_t>(n - i, 4096);
    buf.resize(take * kPosting);
    if (::pread(fd, buf.data(), buf.size(), static_cast<off_t>(kIndexHeader + i * kPosting)) !=
        static_cast<ssize_t>(buf.size()))
      return io_error("cannot read an index file");
    for (uint64_t j = 0; j < take; ++j) {
      if (get_le(buf.data() + j * kPosting, 8) != hash) return out;
      out.push_back(static_cast<uint32_t>(get_le(buf.data() + j * kPosting + 8, 4)));
    }
    i += take;
  }
  return out;
}

}  // namespace

// The index file of full segment k is fresh if its header names this
// segment and the segment's current length (a 48-byte read; the rest is
// checked when it is loaded).
bool AuditFiles::index_fresh(uint64_t k, uint64_t seg_bytes) const {
  const int raw = ::open((dir_ / index_name(k)).c_str(), O_RDONLY | O_CLOEXEC);
  if (raw < 0) return false;
  Fd fd(raw);
  char h[kIndexHeader];
  return ::pread(fd.fd, h, kIndexHeader, 0) == static_cast<ssize_t>(kIndexHeader) &&
         std::memcmp(h, kIndexMagic, 8) == 0 && get_le(h + 8, 8) == k * S + 1 && get_le(h + 16, 8) == seg_bytes &&
         get_le(h + 24, 4) == S;
}

// The index of full segment k: loaded once, checked against the segment's
// length and its own checksum, (re)built from the segment if it does not
// hold. Neither needs the segment's records in memory (index_segment).
Result<std::shared_ptr<const AuditFiles::SegmentIndex>> AuditFiles::segment_index(uint64_t k) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (auto it = indexes_.find(k); it != indexes_.end()) return it->second;
    if (k >= segs_.size() || !segs_[k].present)
      return entry_error(k * S + 1, "its segment file " + segment_name(k) + " is missing");
  }
  const int seg_raw = ::open((dir_ / segment_name(k)).c_str(), O_RDONLY | O_CLOEXEC);
  if (seg_raw < 0) return entry_error(k * S + 1, "its segment file " + segment_name(k) + " cannot be opened");
  Fd seg(seg_raw);
  MV_ASSIGN(const uint64_t seg_bytes, file_size(seg.fd));
  const fs::path path = dir_ / index_name(k);
  auto load = [&]() -> std::shared_ptr<SegmentIndex> {
    const int raw = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (raw < 0) return nullptr;
    Fd fd(raw);
    auto bytes = file_size(fd.fd);
    if (!bytes.ok() || *bytes < kIndexHeader + 8 || *bytes > kIndexHeader + 2 * S * kPosting + 8) return nullptr;
    std::string all(*bytes, '\0');
    if (::pread(fd.fd, all.data(), all.size(), 0) != static_cast<ssize_t>(all.size())) return nullptr;
    const char* h = all.data();
    auto ix = std::make_shared<SegmentIndex>();
    ix->segment_bytes = get_le(h + 16, 8);
    ix->n = get_le(h + 28, 4);
    ix->min_time = static_cast<int64_t>(get_le(h + 32, 8));
    ix->max_time = static_cast<int64_t>(get_le(h + 40, 8));
    if (std::memcmp(h, kIndexMagic, 8) != 0 || get_le(h + 8, 8) != k * S + 1 || ix->segment_bytes != seg_bytes ||
        get_le(h + 24, 4) != S || all.size() != kIndexHeader + ix->n * kPosting + 8 ||
        record_check(h, all.size() - 8) != get_le(h + all.size() - 8, 8))
      return nullptr;
    return ix;
  };
  auto ix = load();
  if (!ix) {  // build it: one pass over the segment
    char fh[kFileHeader];
    if (seg_bytes < kFileHeader || ::pread(seg.fd, fh, kFileHeader, 0) != static_cast<ssize_t>(kFileHeader) ||
        std::string(fh, kFileHeader) != file_header(k))
      return entry_error(k * S + 1, "its segment file " + segment_name(k) + " has a bad header");
    std::vector<std::pair<uint64_t, uint32_t>> postings;
    postings.reserve(2 * S);
    RecordReader r(seg.fd, kFileHeader, seg_bytes);
    AuditRowView v;
    int64_t lo = INT64_MAX, hi = INT64_MIN;
    for (uint32_t pos = 0; pos < S; ++pos) {
      if (r.next(v) != RecordReader::kRecord)
        return entry_error(k * S + pos + 1, "malformed record in " + segment_name(k) + " (" + r.why() + ")");
      if (!v.patient.empty()) postings.emplace_back(key_hash('p', v.patient), pos);
      postings.emplace_back(key_hash('u', v.user), pos);
      lo = std::min(lo, v.time_ms);
      hi = std::max(hi, v.time_ms);
    }
    std::sort(postings.begin(), postings.end());
    std::string out(kIndexMagic, 8);
    put_le(out, k * S + 1, 8);
    put_le(out, seg_bytes, 8);
    put_le(out, S, 4);
    put_le(out, postings.size(), 4);
    put_le(out, static_cast<uint64_t>(lo), 8);
    put_le(out, static_cast<uint64_t>(hi), 8);
    out.reserve(out.size() + postings.size() * kPosting + 8);
    for (const auto& [h, p] : postings) {
      put_le(out, h, 8);
      put_le(out, p, 4);
    }
    put_le(out, record_check(out.data(), out.size()), 8);
    // Derived data: not synced (a torn one fails its check and is rebuilt).
    char tmp[64];
    std::snprintf(tmp, sizeof tmp, ".%p.tmp", static_cast<void*>(&out));
    const fs::path part = fs::path(path) += tmp;
    const int w = ::open(part.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (w >= 0) {
      const bool ok = write_all(w, out.data(), out.size(), 0).ok();
      ::close(w);
      if (!ok || ::rename(part.c_str(), path.c_str()) != 0) ::unlink(part.c_str());
    }
    ix = std::make_shared<SegmentIndex>();
    ix->segment_bytes = seg_bytes;
    ix->n = postings.size();
    ix->min_time = lo;
    ix->max_time = hi;
  }
  std::lock_guard<std::mutex> lock(mu_);
  return indexes_.emplace(k, std::move(ix)).first->second;
}

// Extends the in-memory index of the open segment. REQUIRES mu_.
Status AuditFiles::index_tail_locked() {
  if (!tail_) return ok_status();
  const uint64_t k = segs_.size() - 1;
  if (tail_keyed_segment_ != k) {
    tail_keys_.clear();
    tail_keyed_segment_ = k;
    tail_indexed_ = 0;
  }
  const Segment& s = segs_[k];
  if (tail_indexed_ >= s.count) return ok_status();
  RecordReader r(tail_->fd, s.marks[tail_indexed_ / kMarkEvery], s.end);
  AuditRowView v;
  for (uint64_t at = tail_indexed_ / kMarkEvery * kMarkEvery; at < s.count; ++at) {
    if (r.next(v) != RecordReader::kRecord) return entry_error(k * S + at + 1, "malformed record in " + segment_name(k));
    if (at < tail_indexed_) continue;
    if (!v.patient.empty()) tail_keys_[key_hash('p', v.patient)].push_back(static_cast<uint32_t>(at));
    tail_keys_[key_hash('u', v.user)].push_back(static_cast<uint32_t>(at));
  }
  tail_indexed_ = s.count;
  return ok_status();
}

Result<std::vector<uint64_t>> AuditFiles::find(Key key, std::string_view value, size_t limit) {
  std::vector<uint64_t> out;
  MV_TRY(refresh());
  if (limit == 0) return out;
  const uint64_t h = key_of(key, value);
  uint64_t tail = 0;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!tail_) return out;
    MV_TRY(index_tail_locked());
    tail = segs_.size() - 1;
    if (auto it = tail_keys_.find(h); it != tail_keys_.end())
      for (auto p = it->second.rbegin(); p != it->second.rend() && out.size() < limit; ++p)
        out.push_back(tail * S + *p + 1);
  }
  for (uint64_t k = tail; k-- > 0 && out.size() < limit;) {
    MV_ASSIGN(auto ix, segment_index(k));
    const int raw = ::open((dir_ / index_name(k)).c_str(), O_RDONLY | O_CLOEXEC);
    std::vector<uint32_t> hits;
    if (raw >= 0) {
      Fd fd(raw);
      MV_ASSIGN(hits, lookup(fd.fd, ix->n, h));
    } else {  // built but not written (a read-only directory): scan it
      MV_TRY(scan(k * S + 1, S, [&](const AuditRowView& v) {
        if ((key == Key::patient ? v.patient : v.user) == value) hits.push_back(static_cast<uint32_t>((v.seq - 1) % S));
        return true;
      }));
    }
    for (auto p = hits.rbegin(); p != hits.rend() && out.size() < limit; ++p) out.push_back(k * S + *p + 1);
  }
  request_index();
  return out;
}

Result<std::vector<uint64_t>> AuditFiles::find_time(int64_t from_ms, int64_t to_ms, size_t limit) {
  std::vector<uint64_t> out;
  MV_ASSIGN(const uint64_t total, refresh());
  if (limit == 0 || total == 0 || from_ms >= to_ms) return out;
  for (uint64_t k = (total - 1) / S + 1; k-- > 0 && out.size() < limit;) {
    if (k < (total - 1) / S) {  // a full segment: skipped if its time range misses the window
      MV_ASSIGN(auto ix, segment_index(k));
      if (ix->max_time < from_ms || ix->min_time >= to_ms) continue;
    }
    std::vector<uint64_t> hits;
    MV_TRY(scan(k * S + 1, S, [&](const AuditRowView& v) {
      if (v.time_ms >= from_ms && v.time_ms < to_ms) hits.push_back(k * S + (v.seq - 1) % S + 1);
      return true;
    }));
    for (auto p = hits.rbegin(); p != hits.rend() && out.size() < limit; ++p) out.push_back(*p);
  }
  return out;
}

void AuditFiles::request_index() {
  {
    std::lock_guard<std::mutex> lock(ix_mu_);
    if (ix_stop_) return;
    ix_wanted_ = true;
    if (!indexer_.joinable()) indexer_ = std::thread([this] { indexer_loop(); });
  }
  ix_cv_.notify_one();
}

// Builds the index files of full segments that lack one, newest first.
void AuditFiles::indexer_loop() {
  std::unique_lock<std::mutex> lk(ix_mu_);
  for (;;) {
    ix_cv_.wait(lk, [this] { return ix_stop_ || ix_wanted_; });
    if (ix_stop_) return;
    ix_wanted_ = false;
    lk.unlock();
    uint64_t full = 0;
    {
      std::lock_guard<std::mutex> lock(mu_);
      full = segs_.empty() ? 0 : segs_.size() - 1 + (segs_.back().count == S ? 1 : 0);
    }
    for (uint64_t k = full; k-- > 0;) {
      {
        std::lock_guard<std::mutex> stop(ix_mu_);
        if (ix_stop_) return;
      }
      std::error_code ec;
      const auto bytes = fs::file_size(dir_ / segment_name(k), ec);
      if (ec || index_fresh(k, bytes)) continue;
      (void)segment_index(k);  // a failure is the query's to report
    }
    lk.lock();
  }
}

Result<std::vector<AuditFiles::Extent>> AuditFiles::extents(uint64_t n) {
  std::vector<Extent> out;
  if (n == 0) return out;
  const uint64_t last = (n - 1) / S;
  for (uint64_t k = 0; k <= last; ++k) {
    if (k < last) {  // a full segment: the whole file (it only grew to its last entry)
      std::error_code ec;
      const auto bytes = fs::file_size(dir_ / segment_name(k), ec);
      if (ec) return entry_error(k * S + 1, "its segment file " + segment_name(k) + " is missing");
      out.push_back({segment_name(k), bytes});
      continue;
    }
    MV_TRY(index_segment(k));
    std::lock_guard<std::mutex> lock(mu_);
    if (k >= segs_.size() || !segs_[k].present) return entry_error(k * S + 1, "its segment file is missing");
    const uint64_t pos = (n - 1) % S + 1;
    if (pos > segs_[k].count) return entry_error(k * S + segs_[k].count + 1, "missing");
    const int raw = ::open((dir_ / segment_name(k)).c_str(), O_RDONLY | O_CLOEXEC);
    if (raw < 0) return io_error("cannot open " + segment_name(k));
    Fd fd(raw);
    MV_ASSIGN(const uint64_t bytes, locate_locked(k, pos, fd.fd));
    out.push_back({segment_name(k), bytes});
  }
  return out;
}

Status AuditFiles::remove_all() {
  std::lock_guard<std::mutex> lock(mu_);
  std::error_code ec;
  for (fs::directory_iterator it(dir_, ec), e; !ec && it != e; it.increment(ec))
    if ((it->path().extension() == ".log" || it->path().extension() == ".idx") && ::unlink(it->path().c_str()) != 0)
      return io_error("cannot remove a segment");
  if (ec) return make_error(Errc::io, "audit log: cannot list " + dir_.string());
  segs_.clear();
  tail_.reset();
  size_ = durable_ = 0;
  indexes_.clear();
  tail_keyed_segment_ = UINT64_MAX;
  return sync_dir(dir_);
}

}  // namespace medvault::store
